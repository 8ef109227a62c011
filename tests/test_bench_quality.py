"""bench.quality end to end in quick mode, on a scratch data folder: the JSON and the Markdown
have every benchmark for every method, with plausible values, the plots, the targets, and a
plain sentence wherever lookalike is behind a peer."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

try:
    from bench import data
except ModuleNotFoundError:  # `pytest` run without the repository root on sys.path (`python -m pytest` has it)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench import data

MISSING_PACKAGES = data.missing_packages()
BENCH_EXTRA = ("imagehash", "imagededup", "annoy", "matplotlib")
MISSING_MODULES = [name for name in BENCH_EXTRA if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.skipif(
        bool(MISSING_PACKAGES),
        reason=f"benchmark images come from Debian packages not installed here: {' '.join(MISSING_PACKAGES)} "
        f"(apt-get install --no-install-recommends {' '.join(MISSING_PACKAGES)})",
    ),
    pytest.mark.skipif(
        bool(MISSING_MODULES),
        reason=f"the peers the benchmark measures are not installed: {' '.join(MISSING_MODULES)} "
        "(pip install -e '.[bench]' && pip install --no-deps imagededup)",
    ),
]

BENCHMARKS = ("near_duplicates", "same_object", "fashion", "texture")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    from bench.quality import benchmark as quality

    root = tmp_path_factory.mktemp("bench")
    markdown = quality.run(root / "data", root / "docs", quick=True)
    results = json.loads((root / "data" / "results" / "quality.json").read_text())
    return markdown, results, root / "docs"


def method_names(results: dict) -> list[str]:
    return [method["name"] for method in results["methods"]]


def test_every_benchmark_has_every_method(quick_run):
    _, results, _ = quick_run
    names = method_names(results)
    expected = {"lookalike", "lookalike-keypoints", "lookalike-hashes", "IH-pHash", "IH-dHash", "IH-aHash",
                "IH-wHash", "IH-colorhash", "idd-PHash", "idd-DHash", "idd-AHash", "idd-WHash", "CNN-exact",
                "CNN-Annoy"}
    assert expected <= set(names)
    for benchmark in BENCHMARKS:
        assert set(results[benchmark]) == set(names), benchmark
    for name in names:
        assert set(results["near_duplicates"][name]["recall_at_1_by_edit"]) == set(data.QUICK.edits)
        assert {"map", "recall_at_1", "best_f1", "own_threshold"} <= set(results["near_duplicates"][name])
        assert set(results["same_object"][name]["recall_at"]) == {"1", "5", "10"}
        assert set(results["fashion"][name]) == {"map_at_10", "precision_at_10"}
        assert {"map", "map_turned_queries"} <= set(results["texture"][name])


def test_metrics_are_fractions(quick_run):
    _, results, _ = quick_run

    def numbers(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in ("threshold", "thresholds", "partner_rank"):
                    yield from numbers(value)
        elif isinstance(node, list):
            for value in node:
                yield from numbers(value)
        elif isinstance(node, float):
            yield node

    for benchmark in (*BENCHMARKS, "index_recall"):
        values = list(numbers(results[benchmark]))
        assert values, benchmark
        assert all(0.0 <= value <= 1.0 for value in values if not math.isnan(value)), benchmark


def test_lookalike_finds_exact_and_turned_copies_first(quick_run):
    _, results, _ = quick_run
    for mode in ("lookalike", "lookalike-keypoints"):
        ours = results["near_duplicates"][mode]["recall_at_1_by_edit"]
        assert ours["exact"] == ours["rot90"] == ours["mirror"] == 1.0, mode


def test_plain_perceptual_hashes_miss_rotated_copies(quick_run):
    _, results, _ = quick_run
    near = results["near_duplicates"]
    for peer in ("IH-pHash", "IH-dHash", "idd-PHash"):
        assert near[peer]["recall_at_1_by_edit"]["exact"] == 1.0
        assert near[peer]["recall_at_1_by_edit"]["rot90"] <= 0.5, peer


def test_annoy_is_measured_against_exact_search(quick_run):
    _, results, _ = quick_run
    for entry in results["index_recall"].values():
        assert entry["rows"]["Annoy, 10 trees"]["recall_at_1"] > 0.5


def test_targets_are_reported_for_both_modes(quick_run):
    markdown, results, _ = quick_run
    names = [target["name"] for target in results["targets"]]
    assert any(name.startswith("crops keeping half") for name in names)
    assert any(name.startswith("same object") for name in names)
    assert any(name.startswith("no loss") for name in names)
    for target in results["targets"]:
        assert set(target["results"]) == {"lookalike", "lookalike-keypoints"}
        assert target["results"]["lookalike-keypoints"]["met"] in (True, False)
    assert "### Targets" in markdown
    assert "(met)" in markdown or "(**not met**)" in markdown


def test_markdown_has_every_table_and_its_plots(quick_run):
    markdown, results, docs = quick_run
    assert markdown.startswith("## Quality")
    for heading in ("### Near-duplicates: recall@1 per edit", "### Near-duplicates: ranking, and one threshold",
                    "### Same object, another viewpoint", "### Labelled similarity: Fashion-MNIST", "### Texture",
                    "### Approximate index vs exact search"):
        assert heading in markdown
    for column in ("| edit |", "| method | mAP | recall@1 |", "| method | mAP@10 | precision@10 |",
                   "| index | gallery |"):
        assert column in markdown
    for name in method_names(results):
        assert f"`{name}`" in markdown
    assert "training.md" in markdown  # the texture stage's benchmark, measured by bench.train_benchmark
    images = [line.split("](")[1].rstrip(")") for line in markdown.splitlines() if line.startswith("![")]
    assert len(images) == 3
    for image in images:
        assert (docs / image).stat().st_size > 10_000


def test_the_page_says_where_lookalike_is_behind(quick_run, tmp_path):
    from bench.quality.report import quality_section

    _, results, _ = quick_run
    worse = copy.deepcopy(results)
    worse["near_duplicates"]["IH-pHash"]["recall_at_1_by_edit"]["jpeg10"] = 1.0
    worse["near_duplicates"]["lookalike"]["recall_at_1_by_edit"]["jpeg10"] = 0.5
    worse["fashion"]["IH-dHash"]["map_at_10"] = 0.99
    worse["fashion"]["lookalike"]["map_at_10"] = 0.10
    markdown = quality_section(worse, {"per_edit": "a.png", "copy_threshold": "b.png", "summary": "c.png"})
    assert "**It is behind a peer on" in markdown and "jpeg10 (0.50; IH-pHash 1.00" in markdown
    assert "**`lookalike` 0.100 is behind" in markdown and "IH-dHash (0.990)" in markdown


def test_wallpaper_folders_never_give_an_svg(tmp_path) -> None:
    """desktop-base puts SVG drawings beside the pictures (a "3840x2160.svg" won the size
    contest and broke the data preparation); folders of drawings only are passed over."""
    from bench.data.photos import largest_wallpaper, raster_wallpapers

    images = tmp_path / "Mixed" / "contents" / "images"
    images.mkdir(parents=True)
    for name in ("1920x1080.png", "3840x2160.svg", "1280x800.jpg"):
        (images / name).write_bytes(b"x")
    drawings = tmp_path / "Drawings" / "contents" / "images"
    drawings.mkdir(parents=True)
    (drawings / "1920x1080.svg").write_bytes(b"<svg/>")
    assert largest_wallpaper(tmp_path / "Mixed").name == "1920x1080.png"
    assert raster_wallpapers(tmp_path / "Drawings") == []

"""bench.speed end to end in quick mode, on a scratch data folder: the JSON has every
measurement with sane values, and the Markdown has every table, target and plot. No
timings are asserted here: the speed targets are checked (and reported) by the benchmark."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

try:
    from bench.scale import tasks as scale
    from bench.speed import benchmark as speed
    from bench.timing.images import photo_sources
except ModuleNotFoundError:  # `pytest` run without the repository root on sys.path (`python -m pytest` has it)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.scale import tasks as scale
    from bench.speed import benchmark as speed
    from bench.timing.images import photo_sources

MISSING_EXTRAS = [name for name in ("imagehash", "imagededup", "matplotlib", "psutil", "scipy")
                  if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.skipif(
        not photo_sources(),
        reason="the speed benchmark's photos come from Debian packages not installed here "
        "(apt-get install --no-install-recommends plasma-workspace-wallpapers mate-backgrounds)",
    ),
    pytest.mark.skipif(
        bool(MISSING_EXTRAS),
        reason=f"the bench extras are not installed ({', '.join(MISSING_EXTRAS)}): pip install -e '.[test,bench]' "
        "and pip install --no-deps imagededup (make bench does both)",
    ),
]

INDEXING_METHODS = ("imagehash_phash", "imagehash_all4", "lookalike_hashes", "lookalike_default")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    root = tmp_path_factory.mktemp("bench-speed")
    markdown = speed.run(root / "data", root / "docs", quick=True)
    results = json.loads((root / "data" / "results" / "speed.json").read_text())
    return markdown, results, root / "docs"


def test_indexing_has_every_method_on_every_image_set(quick_run: tuple[str, dict, Path]) -> None:
    _, results, _ = quick_run
    indexing = results["indexing"]
    assert indexing["onnx_batch"]["images_per_s"] > 0
    for image_set in ("large", "small"):
        for method in INDEXING_METHODS:
            run = indexing[image_set][method]
            assert "error" not in run, (image_set, method, run)
            assert run["images_per_s"] > 0 and run["cpu_ms_per_image"] > 0
            assert run["peak_rss_mb"] > 0
        stored = indexing[image_set]["lookalike_default"]
        assert stored["images"] == results["images"][image_set]["count"]
        assert stored["bytes_per_image"] > 0
    assert results["images"]["large"]["size"][0] * results["images"]["large"]["size"][1] >= 8_000_000


def test_query_latency_is_sane(quick_run: tuple[str, dict, Path]) -> None:
    _, results, _ = quick_run
    (size, latency), = results["latency"].items()
    assert int(size) == 10_000 and latency["size"] == 10_000
    assert latency["queries"] >= 10
    for stage in ("total", "decode", "features", "index"):
        assert 0 <= latency["ms"][stage]["p50"] <= latency["ms"][stage]["p99"]
    assert latency["ms"]["index"]["p50"] <= latency["ms"]["total"]["p50"]
    for key in ("recall_at_10_query_images", "recall_at_10_stored_vectors"):
        assert 0.0 <= latency[key] <= 1.0
    assert latency["factory"] == "Flat"  # 10k is below Settings.max_exact_vectors
    assert latency["recall_at_10_stored_vectors"] == 1.0  # exact search against exact search
    assert latency["candidate_recall_stored_vectors"] == 1.0  # 40 exact candidates hold the exact 10
    assert latency["planted_found"] >= 0.5  # edited copies find their original
    assert 0 < latency["serving_peak_rss_mb"] <= latency["peak_rss_mb"]
    # The turned queries (rot90 is one edit in eight) need the CNN on every rotation; most don't.
    assert 0 < latency["turned_share"] < 0.5
    strangers = latency["strangers"]
    assert strangers["queries"] >= 10 and strangers["turned_share"] == 1.0  # no copy stored: never sure
    assert strangers["ms"]["features"]["p50"] > 0


def test_query_latency_with_the_keypoint_stage(quick_run: tuple[str, dict, Path]) -> None:
    markdown, results, _ = quick_run
    keypoints = results["latency_keypoints"]
    assert keypoints["rerank"] == ["keypoints"] and keypoints["size"] == 10_000
    assert keypoints["keypoints_described"]["images"] >= 10  # the real photos among the synthetic vectors
    assert keypoints["planted_found"] >= 0.5
    assert keypoints["strangers"]["ms"]["total"]["p50"] > 0
    assert "With `--rerank keypoints` at 10,000 stored images" in markdown


def test_duplicates_measures_both_tools_on_the_same_store(quick_run: tuple[str, dict, Path]) -> None:
    _, results, _ = quick_run
    duplicates = results["duplicates"]
    (size, ours), = duplicates["lookalike"].items()
    theirs = duplicates["imagededup"][size]
    assert "error" not in ours and "error" not in theirs
    assert ours["size"] == theirs["size"] == int(size)
    assert ours["seconds"] > 0 and theirs["seconds"] > 0
    assert ours["groups"] > 0 and theirs["pairs"] > 0  # the planted copies are found
    assert ours["candidate_pairs"] > 0
    assert ours["peak_rss_mb"] > 0 and theirs["peak_rss_mb"] > 0


def test_scale_figures_and_the_scan_against_every_pair(quick_run: tuple[str, dict, Path]) -> None:
    _, results, _ = quick_run
    figures = results["scale"]
    assert int(figures["size"]) == 10_000 and "error" not in figures["latency"]
    recall = figures["group_recall"]
    assert "error" not in recall, recall
    assert recall["exact_groups"] > 0 and 0.0 <= recall["pair_recall"] <= 1.0
    assert recall["found_inside_exact"] == 1.0  # the scan scores pairs exactly: it cannot invent groups
    writes = figures["single_writes"]
    assert "error" not in writes, writes
    assert writes["photos"] > 5 and 0 < writes["add_ms"]["p50"] <= writes["add_ms"]["max"]


def test_group_agreement() -> None:
    exact = [frozenset({1, 2, 3}), frozenset({4, 5})]
    found = [frozenset({1, 2}), frozenset({4, 5})]
    agreement = scale.group_agreement(exact, found)
    assert agreement["groups_found_whole"] == 0.5
    assert agreement["pair_recall"] == pytest.approx(2 / 4)  # {1,2} and {4,5} of {12, 13, 23, 45}
    assert agreement["found_inside_exact"] == 1.0


def test_synthetic_stores_and_hash_realism(quick_run: tuple[str, dict, Path]) -> None:
    _, results, _ = quick_run
    for size, store in results["stores"].items():
        assert "error" not in store
        assert store["size"] == int(size) and store["bytes_per_image"] > 0
        assert store["planted_copies"] > 0
    for shares in results["hash_realism"]["shares"].values():
        for kind in ("real", "synthetic"):
            assert all(0.0 <= share <= 1.0 for share in shares[kind])
            assert shares[kind] == sorted(shares[kind])  # more pairs within a wider radius


def test_markdown_has_every_table_target_and_plot(quick_run: tuple[str, dict, Path]) -> None:
    markdown, results, docs = quick_run
    assert markdown.startswith("## Speed and memory")
    for heading in ("Indexing throughput", "Query latency", "Finding duplicates", "Store size", "synthetic stores",
                    "One machine"):
        assert f"### {heading}" in markdown or heading in markdown
    assert "Quick mode" in markdown
    assert "at least 5x ImageHash pHash" in markdown and "70% of the ONNX model" in markdown
    assert "recall@10" in markdown and "p50 under 50 ms" in markdown
    assert "under 4 GB" in markdown and "under 15 minutes" in markdown and "One image at a time" in markdown
    for line in markdown.splitlines():
        if line.startswith("| ") and ("**yes**" in line or "**no**" in line):
            assert line.count("|") == 4  # target rows: target | measured | met
    for image in ("speed-indexing-quick.png", "speed-latency-quick.png", "speed-duplicates-quick.png"):
        assert (docs / speed.PLOTS / image).stat().st_size > 1000
        assert f"{speed.PLOTS}/{image}" in markdown
    assert results["quick"] is True

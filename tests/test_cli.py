"""The `lookalike` command, run through click's CliRunner on real files and a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lookalike.cli import main


@pytest.fixture()
def run(tmp_path: Path):
    db = tmp_path / "cli.db"
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, ["--db", str(db), *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_index_search_duplicates_neighbors_info(run, gallery: Path, queries: Path) -> None:
    report = json.loads(run("index", str(gallery), "--label-from", "prefix", "--json"))
    assert report["indexed"] == len(list(gallery.iterdir())) - 1 and report["linked"] == 1
    table = run("search", str(queries / "coffee-rot90.jpg"), "-k", "3")
    assert "near-duplicate" in table.splitlines()[2] and "coffee" in table.splitlines()[2]
    results = json.loads(run("search", str(queries / "coffee-rot90.jpg"), "-k", "3", "--json"))
    assert results[0]["label"] == "coffee" and results[0]["orientation"] == "rotated 270"
    assert set(results[0]["evidence"]) >= {"phash", "effnet_lite0"}
    groups = json.loads(run("duplicates", "--json"))
    assert {g["size"] for g in groups} >= {2}
    assert "weakest link" in run("duplicates")
    neighbours = json.loads(run("neighbors", "-k", "2", "--json"))
    assert len(neighbours) == report["indexed"] and all(len(n["neighbors"]) == 2 for n in neighbours)
    info = json.loads(run("info", "--json"))
    assert info["images"] == report["indexed"] and {f["name"] for f in info["features"]} >= {"phash", "lbp"}
    assert "effnet_lite0" in run("info")


def test_add_remove(run, gallery: Path, queries: Path) -> None:
    run("index", str(gallery / "moon.png"), str(gallery / "horse.png"))
    added = json.loads(run("add", str(queries / "rocket-jpeg15.jpg"), "--label", "space", "--json"))
    assert added["indexed"] == 1
    best = json.loads(run("search", str(queries / "rocket-jpeg15.jpg"), "-k", "1", "--json"))[0]
    assert (best["tier"], best["label"]) == ("exact", "space")
    assert json.loads(run("remove", str(best["id"]), "--json")) == {"removed_ids": [best["id"]]}
    assert "not in the collection" in run("remove", "12345", code=1)


def test_compare_exit_codes(run, gallery: Path, queries: Path) -> None:
    same = run("compare", str(gallery / "astronaut.png"), str(queries / "astronaut-jpeg15.jpg"))
    assert same.startswith("same")
    verdict = json.loads(run("compare", str(gallery / "moon.png"), str(gallery / "coffee.png"), "--json", code=1))
    assert verdict["verdict"] == "different" and 0 <= verdict["score"] < verdict["threshold"]


def test_bad_input_gives_clear_errors_and_exit_codes(run, gallery: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.png").write_bytes((gallery / "moon.png").read_bytes())
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    report = json.loads(run("index", str(folder), "--json", code=3))
    assert report["indexed"] == 1 and report["skipped"][0]["path"].endswith("broken.jpg")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    assert "notes.png" in run("search", str(text), code=1)
    assert "notes.png" in run("compare", str(text), str(gallery / "moon.png"), code=2)
    assert "does not exist" in run("search", str(tmp_path / "missing.jpg"), code=2)


def test_features_lists_every_kind(run) -> None:
    listed = json.loads(run("features", "--json"))
    assert {f["family"] for f in listed} == {"hash", "colour", "texture", "embedding", "copy", "region"}


def test_evaluate_writes_report_and_pictures(run, gallery: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    data = json.loads(run("evaluate", str(gallery), "--label-from", "prefix", "--out", str(out), "--json"))
    assert data["map"] == 1.0 and data["best_f1"]["f1"] == 1.0
    assert json.loads((out / "evaluation.json").read_text())["queries"] == 6
    from PIL import Image

    assert Image.open(out / "precision-recall.png").size == (640, 480)
    assert Image.open(out / "examples.png").width > 600
    calibrated = json.loads(run("calibrate", str(gallery), "--label-from", "prefix", "--json"))
    assert calibrated["precision"] == 1.0
    assert json.loads(run("info", "--json"))["thresholds"]["same"] == calibrated["thresholds"]["min_same_score"]
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "moon.png").write_bytes((gallery / "moon.png").read_bytes())
    assert "needs labelled images" in run("evaluate", str(lonely), "--label-from", "folder", code=1)


def test_index_and_search_on_milvus_lite_then_migrate(gallery: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    store = f"milvus-lite:{tmp_path / 'milvus' / 'm.db'}"

    def invoke(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    invoke("--store", store, "index", str(gallery / "moon.png"), str(gallery / "coins.png"))
    best = json.loads(invoke("--store", store, "search", str(gallery / "coins.png"), "-k", "1", "--json"))[0]
    assert best["tier"] == "exact" and best["path"].endswith("coins.png")
    copied = invoke("migrate", "--from", store, "--to", str(tmp_path / "copy.db"))
    assert "copied 2 images" in copied
    assert json.loads(invoke("--db", str(tmp_path / "copy.db"), "info", "--json"))["images"] == 2


def test_a_milvus_lite_store_reopens_in_the_next_process(gallery: Path, tmp_path: Path) -> None:
    """milvus-lite 3 releases a collection when its process closes: `index` then `search`
    in two commands failed with "Collection 'lookalike_meta' is in state 'released'"."""
    import subprocess
    import sys

    pytest.importorskip("milvus_lite")
    store = ["--db", str(tmp_path / "x.db"), "--store", f"milvus-lite:{tmp_path / 'milvus.db'}"]

    def lookalike(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lookalike.cli", *store, *args], capture_output=True,
                              text=True, timeout=300)

    indexed = lookalike("add", str(gallery / "moon.png"), str(gallery / "coffee.png"))
    assert indexed.returncode == 0, indexed.stderr
    found = lookalike("search", str(gallery / "moon.png"), "-k", "1", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["path"].endswith("moon.png")


def test_read_commands_never_create_a_store(tmp_path: Path, gallery: Path, monkeypatch) -> None:
    """`--db nope.db search` made nope.db and printed an empty table; `info` and `evaluate`
    left a stray lookalike.db in the current folder."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command in (["--db", "nope.db", "search", str(gallery / "moon.png")], ["info"], ["duplicates"],
                    ["neighbors"], ["remove", "1"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 1 and "no store at" in result.output, (command, result.output)
    labelled = tmp_path / "labelled"
    from PIL import Image

    for label in ("moon", "coffee"):
        (labelled / label).mkdir(parents=True)
        (labelled / label / "a.png").write_bytes((gallery / f"{label}.png").read_bytes())
        Image.open(gallery / f"{label}.png").rotate(90).save(labelled / label / "b.png")
    evaluated = runner.invoke(main, ["evaluate", str(labelled), "--label-from", "folder", "--json",
                                     "--out", str(tmp_path / "eval")])
    assert evaluated.exit_code == 0, evaluated.output
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "lookalike.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval", "labelled"]


def test_serve_on_a_taken_port_says_so_before_it_says_serving(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "lookalike.cli", "--db", str(tmp_path / "s.db"), "serve",
                                 "--port", str(port)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "cannot listen on 127.0.0.1" in result.stderr, result.stderr
    assert "serving" not in result.stderr and "Traceback" not in result.stderr


def test_an_image_with_too_many_pixels_is_refused_naming_the_option_that_allows_it(
    tmp_path: Path, gallery: Path, monkeypatch
) -> None:
    """The refusal said "raise max_pixels in Settings", which no command-line user can do:
    it names --max-megapixels (or its environment variable), and that option lets the
    image in. A real bomb (a 15000 x 15000 PNG of 0.03 MB) is refused from its header."""
    from PIL import Image

    from lookalike import Collection, Settings
    from tests.conftest import HASH_FEATURES

    db = tmp_path / "limits.db"
    with Collection(settings=Settings(db=db, features=HASH_FEATURES)) as collection:
        collection.index([gallery / "moon.png"])
    big = tmp_path / "big.png"
    Image.open(gallery / "coffee.png").resize((1100, 1000)).save(big)  # 1.1 megapixels
    bomb = tmp_path / "bomb.png"
    Image.new("1", (15000, 15000)).save(bomb)
    runner = CliRunner()

    def lookalike(*args: str, code: int) -> str:
        result = runner.invoke(main, ["--db", str(db), *args])
        assert result.exit_code == code, result.output
        return result.output

    for refused in (lookalike("--max-megapixels", "1", "search", str(big), code=1),
                    lookalike("--max-megapixels", "1", "compare", str(big), str(gallery / "moon.png"), code=2)):
        assert "big.png: image too large: 1,100,000 pixels > limit 1,000,000" in refused
        assert "raise --max-megapixels (or LOOKALIKE_MAX_MEGAPIXELS)" in refused and "Settings" not in refused
    bombed = lookalike("search", str(bomb), code=1)
    assert "225,000,000 pixels > limit 180,000,000 (raise --max-megapixels" in bombed
    assert lookalike("--max-megapixels", "2", "search", str(big), "--json", code=0).startswith("[")

    monkeypatch.setenv("LOOKALIKE_MAX_MEGAPIXELS", "1")
    skipped = json.loads(lookalike("index", str(big), "--json", code=3))["skipped"]
    assert [Path(entry["path"]).name for entry in skipped] == ["big.png"]
    assert "raise --max-megapixels" in skipped[0]["reason"]
    added = lookalike("add", str(big), code=3)
    assert "skipping" in added and "big.png: image too large" in added and "raise --max-megapixels" in added
    assert json.loads(lookalike("--max-megapixels", "2", "add", str(big), "--json", code=0))["indexed"] == 1

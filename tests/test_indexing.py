"""Indexing, re-indexing, add/remove, bad input and crashes, against real SQLite files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lookalike import Collection, Settings
from lookalike.errors import FeatureMismatch, NotInCollection, StoreError


def copy_gallery(gallery: Path, dest: Path, names: list[str] | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(gallery.iterdir()):
        if names is None or path.stem in names:
            shutil.copy2(path, dest / path.name)
    return dest


def test_index_then_reindex_skips_unchanged(hash_collection: Collection, gallery: Path) -> None:
    first = hash_collection.index([gallery], label_from="prefix")
    files = len(list(gallery.iterdir()))
    assert (first.indexed, first.linked, first.skipped) == (files - 1, 1, [])
    again = hash_collection.index([gallery], label_from="prefix")
    assert (again.indexed, again.unchanged, again.linked) == (0, files, 0)
    assert hash_collection.info().images == files - 1


def test_identical_files_are_stored_once_with_every_path(hash_collection: Collection, gallery: Path) -> None:
    hash_collection.index([gallery])
    info = hash_collection.info()
    assert info.paths == info.images + 1
    (best, *_) = hash_collection.search(gallery / "chelsea-copy.png", k=1)
    assert sorted(Path(p).name for p in best.image.paths) == ["chelsea-copy.png", "chelsea.png"]


def test_labels_from_prefix_and_folder(hash_collection: Collection, gallery: Path, tmp_path: Path) -> None:
    shop = tmp_path / "shoes"
    copy_gallery(gallery, shop, ["coins"])
    hash_collection.index([gallery], label_from="prefix")
    hash_collection.index([shop], label_from="folder")
    (best, *_) = hash_collection.search(gallery / "astronaut-caption.jpg", k=1)
    assert best.image.label == "astronaut"
    (coins, *_) = hash_collection.search(shop / "coins.png", k=1)
    assert coins.image.label in ("coins", "shoes")  # identical content: one image, first label kept


def test_changed_file_is_reindexed_and_old_content_dropped(hash_collection: Collection, gallery: Path, tmp_path: Path) -> None:
    folder = copy_gallery(gallery, tmp_path / "photos", ["coffee", "moon", "horse"])
    hash_collection.index([folder])
    shutil.copyfile(gallery / "rocket.png", folder / "moon.png")
    os.utime(folder / "moon.png", ns=(1, 1))
    report = hash_collection.index([folder])
    assert (report.indexed, report.unchanged) == (1, 2)
    assert hash_collection.info().images == 3
    (best, *_) = hash_collection.search(gallery / "moon.png", k=1)
    assert best.tier == "similar"  # the old moon is gone from catalog and index


def test_prune_forgets_deleted_files(hash_collection: Collection, gallery: Path, tmp_path: Path) -> None:
    folder = copy_gallery(gallery, tmp_path / "photos", ["coffee", "moon", "horse"])
    hash_collection.index([folder])
    (folder / "horse.png").unlink()
    kept = hash_collection.index([folder])
    assert kept.removed == 0 and hash_collection.info().images == 3
    pruned = hash_collection.index([folder], prune=True)
    assert pruned.removed == 1 and hash_collection.info().images == 2
    assert all(m.image.path != str(folder / "horse.png") for m in hash_collection.search(gallery / "horse.png"))


def test_add_and_remove_single_images_without_rebuild(hash_collection: Collection, gallery: Path, tmp_path: Path) -> None:
    hash_collection.index([copy_gallery(gallery, tmp_path / "photos", ["coffee", "moon", "horse"])])
    report = hash_collection.add([gallery / "rocket.png"], label="space")
    assert report.indexed == 1
    (best, *_) = hash_collection.search(gallery / "rocket.png", k=1)
    assert (best.tier, best.image.label) == ("exact", "space")
    assert hash_collection.remove([best.image.id]) == [best.image.id]
    assert hash_collection.search(gallery / "rocket.png", k=1)[0].tier == "similar"
    assert hash_collection.remove([str(tmp_path / "photos" / "moon.png")]) != []
    assert hash_collection.info().images == 2


def test_remove_unknown_key_removes_nothing(hash_collection: Collection, gallery: Path) -> None:
    hash_collection.index([gallery])
    before = hash_collection.info().images
    with pytest.raises(NotInCollection):
        hash_collection.remove([1, 999_999])
    with pytest.raises(NotInCollection):
        hash_collection.remove(["/no/such/file.jpg"])
    assert hash_collection.info().images == before


def write_bad_files(folder: Path, gallery: Path) -> dict[str, str]:
    """Bad inputs an indexer meets in real folders, with a word their reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not an image at all")
    good = (gallery / "coffee.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    return {"empty.jpg": "empty", "notes.png": "not a JPEG", "truncated.png": "truncated"}


def test_bad_files_are_skipped_with_reasons_and_lose_nothing(tmp_path: Path, gallery: Path) -> None:
    folder = copy_gallery(gallery, tmp_path / "photos", ["moon", "horse"])
    expected = write_bad_files(folder, gallery)
    settings = Settings(db=tmp_path / "s.db", features=("phash", "color"), max_pixels=10_000_000)
    with Collection(settings=settings) as collection:
        report = collection.index([folder])
        assert report.indexed == 2
        reasons = {Path(path).name: reason for path, reason in report.skipped}
        assert reasons.keys() == expected.keys()
        for name, word in expected.items():
            assert word in reasons[name], reasons[name]
        assert collection.info().images == 2


def test_decompression_bomb_is_skipped(tmp_path: Path, gallery: Path) -> None:
    folder = copy_gallery(gallery, tmp_path / "photos", ["page"])  # 384x191
    settings = Settings(db=tmp_path / "s.db", features=("phash",), max_pixels=200_000)
    with Collection(settings=settings) as collection:
        report = collection.index([folder, gallery / "astronaut.png"])  # 512x512 > 200k pixels
        assert [Path(p).name for p, _ in report.skipped] == ["astronaut.png"]
        assert "too large" in report.skipped[0][1]


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from lookalike import Collection, Settings
    settings = Settings(db=sys.argv[1], features={features!r}, batch_size=3)
    done = []
    def die_after_two_batches(n):
        done.append(n)
        if len(done) == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no index save
    with Collection(settings=settings) as c:
        c.index([sys.argv[2]], on_progress=die_after_two_batches)
    """
)


def test_killed_index_run_resumes(tmp_path: Path, gallery: Path) -> None:
    from tests.conftest import HASH_FEATURES

    script = CRASH_SCRIPT.format(features=HASH_FEATURES)
    db = tmp_path / "crash.db"
    result = subprocess.run([sys.executable, "-c", script, str(db), str(gallery)], capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    settings = Settings(db=db, features=HASH_FEATURES, batch_size=3)
    with Collection(settings=settings) as collection:
        committed = collection.info().images
        assert committed == 6  # two batches of three, nothing partial
        for index in collection.store.indexes.values():
            assert len(index) == committed  # rebuilt from the catalog on open
        report = collection.index([gallery])
        assert report.unchanged == 6
        assert collection.info().images == len(list(gallery.iterdir())) - 1
        (best, *_) = collection.search(gallery / "gravel.png", k=1)
        assert best.tier == "exact"


def test_interrupted_run_keeps_finished_batches(embedded_settings: Settings, gallery: Path) -> None:
    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with Collection(settings=embedded_settings) as collection:
        with pytest.raises(KeyboardInterrupt):
            collection.index([gallery], on_progress=interrupt)
        assert collection.info().images == embedded_settings.batch_size
    with Collection(settings=embedded_settings) as reopened:
        assert all(len(index) == embedded_settings.batch_size for index in reopened.store.indexes.values())


def test_store_refuses_vectors_of_another_feature_version(embedded_settings: Settings, gallery: Path) -> None:
    with Collection(settings=embedded_settings) as collection:
        collection.index([gallery / "moon.png"])
        collection.store.catalog.db.execute("UPDATE features SET version = '0' WHERE name = 'phash'")
    with pytest.raises(FeatureMismatch, match="phash"):
        Collection(settings=embedded_settings)


def test_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("this is no database " * 100)
    with pytest.raises(StoreError, match="not a lookalike store"):
        Collection(bogus)


def test_newer_schema_is_refused(embedded_settings: Settings) -> None:
    with Collection(settings=embedded_settings) as collection:
        collection.store.catalog.db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer"):
        Collection(settings=embedded_settings)


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from lookalike import Collection, Settings
    settings = Settings(db=sys.argv[1], features={features!r}, batch_size=2)
    with Collection(settings=settings) as c:
        c.index([sys.argv[2]])
    """
)


def test_two_writers_at_once_lose_nothing(tmp_path: Path, gallery: Path) -> None:
    from tests.conftest import HASH_FEATURES

    names = sorted(p.stem for p in gallery.iterdir() if "-" not in p.stem)
    first = copy_gallery(gallery, tmp_path / "a", names[::2])
    second = copy_gallery(gallery, tmp_path / "b", names[1::2])
    db = tmp_path / "shared.db"
    Collection(settings=Settings(db=db, features=HASH_FEATURES)).close()  # create it first
    script = WRITER_SCRIPT.format(features=HASH_FEATURES)
    writers = [subprocess.Popen([sys.executable, "-c", script, str(db), str(folder)]) for folder in (first, second)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with Collection(settings=Settings(db=db, features=HASH_FEATURES)) as collection:
        assert collection.info().images == len(names)
        assert all(len(index) == len(names) for index in collection.store.indexes.values())
        for name in ("moon", "coffee"):
            assert collection.search(gallery / f"{name}.png", k=1)[0].tier == "exact"


def test_shards_split_files_between_processes(embedded_settings: Settings, gallery: Path) -> None:
    from lookalike.indexing import list_files

    everything = {f.path for f in list_files([gallery])}
    shares = [{f.path for f in list_files([gallery], (i, 3))} for i in range(3)]
    assert set().union(*shares) == everything and sum(map(len, shares)) == len(everything)
    with Collection(settings=embedded_settings) as collection:
        for number in range(3):
            collection.index([gallery], shard=(number, 3))
        assert collection.info().paths == len(everything)


@pytest.mark.parametrize("route", [("milvus", "milvus-lite", "embedded"), ("milvus-lite", "milvus", "embedded")])
def test_migrate_between_backends_without_reembedding(route: tuple[str, ...], tmp_path: Path, gallery: Path,
                                                      request: pytest.FixtureRequest) -> None:
    """Embedded -> Milvus server -> Milvus Lite -> embedded, and the other way round: every
    hop keeps the images, paths, labels, calibration and the same search results."""
    from lookalike.migrate import migrate
    from lookalike.store import open_store
    from tests.conftest import HASH_FEATURES, store_url

    source_settings = Settings(db=tmp_path / "source.db", features=HASH_FEATURES)
    with Collection(settings=source_settings) as source:
        source.index([gallery], label_from="prefix")
        source.store.calibrate({"min_same_score": 0.8, "min_near_duplicate_score": 0.8})
        expected = [(m.image.sha256, round(m.score, 6)) for m in source.search(gallery / "coffee.png", k=5)]
    for hop, kind in enumerate(route):
        target_settings = Settings(db=tmp_path / f"hop{hop}.db", features=HASH_FEATURES,
                                   store=store_url(kind, tmp_path / f"hop{hop}", request, "hashes"))
        with open_store(source_settings) as origin, open_store(target_settings) as destination:
            assert migrate(origin, destination) == origin.counts()["images"], f"hop {hop} to {kind}"
            assert migrate(origin, destination) == 0  # idempotent
            assert destination.counts() == origin.counts()
        with Collection(settings=target_settings) as copied:
            assert copied.settings.min_same_score == 0.8
            found = [(m.image.sha256, round(m.score, 6)) for m in copied.search(gallery / "coffee.png", k=5)]
            assert found == expected, f"hop {hop} to {kind}"
            assert {i.label for i in copied.page(0, 100)} >= {"coffee", "astronaut"}
        source_settings = target_settings


def test_a_string_key_is_a_path_and_an_int_key_an_id(hash_collection, gallery: Path, tmp_path: Path,
                                                    monkeypatch) -> None:
    """`remove(["2"])` meant image 2 unless a file called 2 sat in the current folder: now a
    string is a path and an int an id, wherever the call is made from."""
    folder = tmp_path / "named"
    folder.mkdir()
    (folder / "1").write_bytes((gallery / "moon.png").read_bytes())
    (folder / "other.png").write_bytes((gallery / "coffee.png").read_bytes())
    hash_collection.add([folder / "1", folder / "other.png"])
    moon, other = (hash_collection.image_at(folder / name).id for name in ("1", "other.png"))
    monkeypatch.chdir(tmp_path)  # no file named like an id here
    with pytest.raises(NotInCollection):
        hash_collection.remove([str(other)])
    assert hash_collection.get(other).id == other
    monkeypatch.chdir(folder)
    assert hash_collection.remove(["1"]) == [moon]  # the file named 1
    assert hash_collection.remove([other]) == [other]

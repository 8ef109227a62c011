"""The index journal: a write saves an index file only once enough has changed since its
last save, and the next open replays the catalog's journal into the older file, after a
clean close as after a crash. Real SQLite files and FAISS index files, hash features (fast)."""

from __future__ import annotations

from dataclasses import replace

import json
import shutil
from pathlib import Path

import pytest

from lookalike import Collection, Settings
from lookalike.store import embedded

FEATURES = ("phash", "dhash", "color")


@pytest.fixture
def stored(tmp_path: Path, gallery: Path) -> tuple[Settings, list[Path]]:
    """The gallery but three photos indexed; those three are returned for adding later."""
    folder = tmp_path / "photos"
    shutil.copytree(gallery, folder)
    later = [folder / "astronaut.png", folder / "coffee.png", folder / "rocket.png"]
    held = tmp_path / "held"
    held.mkdir()
    for path in later:
        path.rename(held / path.name)
    settings = Settings(db=tmp_path / "journal.db", features=FEATURES)
    with Collection(settings=settings) as collection:
        collection.index([folder])
    return settings, [held / path.name for path in later]


def sidecar(settings: Settings, feature: str) -> dict:
    return json.loads(Path(f"{settings.db}.indexes/{feature}.json").read_text())


def journal_rows(collection: Collection) -> int:
    return collection.store.catalog.db.execute("SELECT COUNT(*) FROM index_journal").fetchone()[0]


def best_path(collection: Collection, query: Path) -> str:
    return Path(collection.search(query, k=1)[0].image.path).name


def test_a_small_write_leaves_the_files_and_the_next_open_replays_it(
    stored: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, later = stored
    settings = replace(settings, index_save_share=0.5)  # up to half of the index may be unsaved
    before = sidecar(settings, "phash")
    with Collection(settings=settings) as collection:
        collection.add([later[0]])
        removed = collection.remove([str(Path(collection.get(1).path))])
        assert removed == [1]
        assert sidecar(settings, "phash") == before  # nothing written for one add and one removal
        assert journal_rows(collection) > 0
    built = spy_on_builds(monkeypatch)
    with Collection(settings=settings) as reopened:
        assert best_path(reopened, later[0]) == later[0].name
        assert 1 not in {m.image.id for m in reopened.search(later[0], k=50)}
        assert len(reopened.store.indexes["phash"]) == reopened.info().images
    assert built == []  # caught up from the files, nothing rebuilt


def test_an_index_is_saved_once_enough_changed_and_the_journal_pruned(
    stored: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, later = stored
    settings = replace(settings, index_save_share=0.1)
    saved = sidecar(settings, "color")["journal"]
    with Collection(settings=settings) as collection:
        count = collection.info().images
        for path in later:  # each add writes one vector per feature
            collection.add([path])
            if sidecar(settings, "color")["journal"] != saved:
                break
        position = collection.store.catalog.journal_position()
        assert sidecar(settings, "color")["journal"] == position > saved
        assert collection.store.catalog.journal_pruned_through() == position
        assert journal_rows(collection) == 0
    assert count * 0.1 < len(later)  # the loop above could reach the threshold


def test_a_crash_before_the_index_save_loses_nothing(
    stored: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog committed, the process died before any index file was written."""
    settings, later = stored
    monkeypatch.setattr(embedded.EmbeddedStore, "save_indexes", lambda self: None)
    with Collection(settings=settings) as collection:
        collection.add(later)
    monkeypatch.undo()
    with Collection(settings=settings) as reopened:
        assert [best_path(reopened, path) for path in later] == [path.name for path in later]


def test_an_index_update_failing_after_the_commit_is_replayed_from_the_journal(
    stored: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog committed the add, then one index's update failed (out of memory, an
    interrupt): the save that ends the write replays the journal into the indexes."""
    from lookalike.vectors import VectorIndex

    settings, later = stored
    settings = replace(settings, index_save_share=0.5)  # no file written: the indexes in memory must be right
    real_add = VectorIndex.add
    failures = []

    def failing_once_for_dhash(self, ids, vectors):  # type: ignore[no-untyped-def]
        if self.spec.name == "dhash" and not failures:
            failures.append(len(ids))
            raise MemoryError("no room for the new vectors")
        return real_add(self, ids, vectors)

    with Collection(settings=settings) as collection:
        monkeypatch.setattr(VectorIndex, "add", failing_once_for_dhash)
        with pytest.raises(MemoryError):
            collection.add([later[0]])
        assert failures == [1]
        image_id = collection.store.path_state(str(later[0].resolve()))[0]
        dhash = collection.store.indexes["dhash"]
        assert len(dhash) == collection.info().images
        found = dhash.search(collection.store.catalog.get_vectors(collection.store.spec("dhash"), [image_id]), 1)[1]
        assert found[0][0] == image_id


def test_an_index_file_older_than_the_pruned_journal_is_rebuilt(
    stored: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings, later = stored
    old = tmp_path / "old-phash"
    shutil.copytree(f"{settings.db}.indexes", old)
    stale = sidecar(settings, "phash")["journal"]
    with Collection(settings=settings) as collection:  # small store: every write saves and prunes
        collection.add([later[0]])
        collection.remove([1])  # as many images as before: only the journal tells the file is stale
        assert collection.store.catalog.journal_pruned_through() > stale
    for name in ("phash.faiss", "phash.json"):  # put the stale file back, as a restore from backup would
        shutil.copyfile(old / name, Path(f"{settings.db}.indexes") / name)
    built = spy_on_builds(monkeypatch)
    with Collection(settings=settings) as reopened:
        assert built == ["phash"]
        assert 1 not in reopened.store.indexes["phash"].search(
            reopened.store.catalog.get_vectors(reopened.store.spec("phash"), [2]), 100)[1]
        assert best_path(reopened, later[0]) == later[0].name


def test_a_file_saved_before_the_journal_existed_is_kept_when_current(
    stored: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stores made by earlier versions (schema 4, sidecars without a journal entry) open
    without a rebuild, and their writes are journaled from then on."""
    import sqlite3

    from lookalike.catalog.migrations import MIGRATIONS

    settings, later = stored
    old = sqlite3.connect(settings.db, isolation_level=None)
    for statement in ("DROP TRIGGER index_journal_vector_insert", "DROP TRIGGER index_journal_vector_delete",
                      "DROP TABLE index_journal", "DELETE FROM sqlite_sequence",
                      "DELETE FROM meta WHERE key LIKE 'index_journal%'", "DROP TABLE video_frames",
                      "DROP TABLE dedup_steps", "DROP TABLE dedup_runs", "DROP TABLE dedup_marks",
                      "PRAGMA user_version = 4"):
        old.execute(statement)
    old.close()
    for feature in FEATURES:
        path = Path(f"{settings.db}.indexes/{feature}.json")
        meta = json.loads(path.read_text())
        del meta["journal"]
        path.write_text(json.dumps(meta))
    built = spy_on_builds(monkeypatch)
    with Collection(settings=settings) as reopened:
        assert built == []
        assert reopened.store.catalog.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)  # the newest
        reopened.add([later[0]])
        assert best_path(reopened, later[0]) == later[0].name
        assert reopened.store.catalog.journal_position() > 0


def spy_on_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The features whose index is built from the catalog (a spy around the real method)."""
    built: list[str] = []
    real = embedded.EmbeddedStore._build_index

    def recorded(self, spec, factory):  # type: ignore[no-untyped-def]
        built.append(spec.name)
        return real(self, spec, factory)

    monkeypatch.setattr(embedded.EmbeddedStore, "_build_index", recorded)
    return built

"""What a store promises about its own data: image ids are never handed out twice (the
embedded catalog and Milvus), and an index file damaged on disk (bit rot, a folder replaced
by a file) is noticed on open. Real SQLite files, real FAISS files, Milvus Lite."""

from __future__ import annotations

from dataclasses import replace

import hashlib
import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lookalike import Collection, Settings
from lookalike.catalog import catalog as catalog_module
from lookalike.catalog import migrations
from lookalike.cli import main
from lookalike import errors
from lookalike.errors import NotInCollection, StoreError
from lookalike.store import embedded
from tests.conftest import store_url
from tests.test_index_journal import spy_on_builds

FEATURES = ("phash", "dhash", "color")
QUERIES = ("coffee", "moon", "rocket", "horse")


@pytest.fixture
def photos(tmp_path: Path, gallery: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee", "moon", "horse", "coins"):
        shutil.copy2(gallery / f"{name}.png", folder / f"{name}.png")
    return folder


def id_of(collection: Collection, path: Path) -> int:
    return collection.store.path_state(str(path.resolve()))[0]


def catalog_rows(db: Path) -> dict[str, list[tuple]]:
    """Every image, path and vector row of a catalog, read with plain sqlite3."""
    with sqlite3.connect(db) as connection:
        return {
            "images": connection.execute("SELECT * FROM images ORDER BY id").fetchall(),
            "paths": connection.execute("SELECT path, image_id FROM paths ORDER BY path").fetchall(),
            "vectors": connection.execute("SELECT feature, image_id, data FROM vectors ORDER BY 1, 2").fetchall(),
        }


# --- ids are never reused -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["embedded", "milvus"])
def test_a_removed_id_is_never_given_to_another_image(backend: str, tmp_path: Path, photos: Path, gallery: Path,
                                                      request: pytest.FixtureRequest) -> None:
    settings = Settings(db=tmp_path / "ids.db", store=store_url(backend, tmp_path, request, "integrity"),
                        features=FEATURES)
    with Collection(settings=settings) as collection:
        collection.index([photos])
        ids = {path.stem: id_of(collection, path) for path in photos.iterdir()}
        top = max(ids, key=ids.get)
        assert collection.remove([ids[top]]) == [ids[top]]
        (photos / f"{top}.png").unlink()
        collection.add([gallery / "rocket.png"])  # another picture
        collection.add([gallery / f"{top}.png"])  # the removed picture again
        again = {name: id_of(collection, gallery / f"{name}.png") for name in ("rocket", top)}
        assert ids[top] not in again.values()
        with pytest.raises(NotInCollection):
            collection.get(ids[top])
    with Collection(settings=settings) as reopened:
        assert {name: id_of(reopened, gallery / f"{name}.png") for name in again} == again
        assert reopened.get(again[top]).sha256 == hashlib.sha256((gallery / f"{top}.png").read_bytes()).hexdigest()


def test_embedded_ids_grow_past_a_removed_highest_id_also_after_reopening(
    embedded_settings: Settings, photos: Path, gallery: Path
) -> None:
    with Collection(settings=embedded_settings) as collection:
        collection.index([photos])
        highest = max(collection.store.image_ids())
        collection.remove([highest])
        collection.add([gallery / "rocket.png"])
        rocket = id_of(collection, gallery / "rocket.png")
        assert rocket > highest
        collection.remove([rocket])
    with Collection(settings=embedded_settings) as reopened:
        reopened.add([gallery / "astronaut.png"])
        assert id_of(reopened, gallery / "astronaut.png") > rocket


def test_a_store_of_the_previous_schema_upgrades_keeping_its_ids_and_its_deleted_ids(
    tmp_path: Path, photos: Path, gallery: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written by schema 5 (no AUTOINCREMENT) whose highest image was removed: the
    upgrade keeps every row and id, rebuilds no index, and the journal's record of the
    removed id keeps it from coming back."""
    settings = Settings(db=tmp_path / "old.db", features=FEATURES)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:5])  # this code before m006
    monkeypatch.setattr(catalog_module, "_IMAGE_COLUMNS", "id, sha256, bytes, width, height, format, label, added_at, name")
    monkeypatch.setattr(catalog_module.Catalog, "insert_image", _insert_before_m007)
    monkeypatch.setattr(catalog_module.Catalog, "frame_times", lambda self, ids: {})  # before m009: no video frames
    monkeypatch.setattr(catalog_module.Catalog, "frames_by_video", lambda self, ids: {})
    settings = replace(settings, index_save_share=0.5)  # the removal stays in the journal
    with Collection(settings=settings) as old:
        old.index([photos])
        highest = max(old.store.image_ids())
        old.remove([highest])
        assert old.store.catalog.db.execute("PRAGMA user_version").fetchone()[0] == 5
    before = catalog_rows(settings.db)
    monkeypatch.undo()
    before["images"] = [row + (None, None) for row in before["images"]]  # m007: no digest, no detail yet
    built = spy_on_builds(monkeypatch)
    with Collection(settings=settings) as upgraded:
        db = upgraded.store.catalog.db
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)
        assert built == []  # nothing re-embedded, no index rebuilt
        assert catalog_rows(settings.db) == before
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        upgraded.add([gallery / "rocket.png"])
        rocket = id_of(upgraded, gallery / "rocket.png")
        assert rocket > highest
        assert Path(upgraded.search(gallery / "rocket.png", k=1)[0].image.path).name == "rocket.png"
        # the rebuilt table still cascades to paths and vectors, and the journal still sees it
        position = upgraded.store.catalog.journal_position()
        upgraded.remove([rocket])
        assert upgraded.store.catalog.journal_position() > position
        assert db.execute("SELECT COUNT(*) FROM vectors WHERE image_id = ?", (rocket,)).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM paths WHERE image_id = ?", (rocket,)).fetchone()[0] == 0


def _insert_before_m007(self, sha256, size, width, height, fmt, label, name=None, pixel_digest=None,  # type: ignore[no-untyped-def]
                        hash_detail=None):
    """`Catalog.insert_image` as it was before m007 (no pixel digest, no hash detail)."""
    cursor = self.db.execute(
        "INSERT INTO images (sha256, bytes, width, height, format, label, added_at, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (sha256, size, width, height, fmt, label, "2026-01-01T00:00:00+00:00", name))
    return int(cursor.lastrowid)


def test_a_migration_that_would_break_references_is_rolled_back(
    embedded_settings: Settings, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations run with foreign keys off (so a table can be rebuilt); a step that leaves
    paths or vectors pointing at no image is refused before it commits."""
    with Collection(settings=embedded_settings) as collection:
        collection.index([photos])
    before = catalog_rows(embedded_settings.db)

    def m999_careless(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM images WHERE id = 1")  # no cascade with foreign keys off

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m999_careless])
    with pytest.raises(StoreError, match="m999_careless would break"):
        Collection(settings=embedded_settings)
    assert catalog_rows(embedded_settings.db) == before
    with sqlite3.connect(embedded_settings.db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS) - 1


def test_milvus_re_adding_a_removed_picture_gives_one_new_id_that_every_writer_agrees_on(
    tmp_path: Path, photos: Path, gallery: Path, request: pytest.FixtureRequest
) -> None:
    """Ids stay derived from the content (so sharded writers agree without talking): a
    removed picture's id is retired, and the picture comes back under the id of its next
    generation, the same for every writer, however often it is added."""
    from lookalike.store.milvus import sha256_id

    settings = Settings(db=tmp_path / "m.db", store=store_url("milvus", tmp_path, request, "integrity"),
                        features=FEATURES)
    coffee = photos / "coffee.png"
    sha256 = hashlib.sha256(coffee.read_bytes()).hexdigest()
    with Collection(settings=settings) as collection:
        collection.index([photos])
        first = id_of(collection, coffee)
        assert first == sha256_id(sha256)  # fresh content keeps its content id
        collection.remove([first])
        collection.add([coffee])
        second = id_of(collection, coffee)
        assert second != first
        assert collection.store.image_id_for_sha256(sha256) == second
    copy = tmp_path / "elsewhere" / "coffee-copy.png"
    copy.parent.mkdir()
    shutil.copyfile(coffee, copy)
    with Collection(settings=settings) as other_writer:
        report = other_writer.add([copy])
        assert (report.indexed, report.linked) == (0, 1)
        assert id_of(other_writer, copy) == second
        assert other_writer.info().images == 4
        other_writer.remove([second])
        other_writer.add([coffee])
        third = id_of(other_writer, coffee)
        assert third not in (first, second)
        assert other_writer.search(coffee, k=1)[0].image.id == third


# --- damaged index files ----------------------------------------------------------------------


def results(collection: Collection, gallery: Path) -> list[list[tuple[int, float]]]:
    return [[(m.image.id, round(m.score, 6)) for m in collection.search(gallery / f"{name}.png", k=5)]
            for name in QUERIES]


def damage_the_middle(path: Path) -> None:
    """Bit rot: bytes overwritten mid-file, the length kept."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle - 32 : middle + 32] = b"\xff" * 64
    path.write_bytes(bytes(data))


@pytest.fixture
def indexed(tmp_path: Path, gallery: Path) -> Settings:
    settings = Settings(db=tmp_path / "rot.db", features=FEATURES)
    with Collection(settings=settings) as collection:
        collection.index([gallery])
    return settings


def test_an_index_file_damaged_in_the_middle_is_rebuilt_with_a_warning(
    indexed: Settings, gallery: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with Collection(settings=indexed) as collection:
        expected = results(collection, gallery)
    folder = Path(f"{indexed.db}.indexes")
    for feature in FEATURES:
        size = (folder / f"{feature}.faiss").stat().st_size
        damage_the_middle(folder / f"{feature}.faiss")
        assert (folder / f"{feature}.faiss").stat().st_size == size
    built = spy_on_builds(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="lookalike"):
        with Collection(settings=indexed) as reopened:
            assert sorted(built) == sorted(FEATURES)
            assert results(reopened, gallery) == expected
    warned = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    for feature in FEATURES:
        assert any(str(folder / f"{feature}.faiss") in message for message in warned), warned
    with Collection(settings=indexed) as writer:  # the next write saves the rebuilt files
        writer.add([gallery / "coffee.png"])  # already stored: a write that changes nothing
    built.clear()
    with Collection(settings=indexed) as healed:
        assert built == []
        assert results(healed, gallery) == expected


def test_index_files_from_before_checksums_are_trusted_then_checksummed_at_the_next_write(
    indexed: Settings, tmp_path: Path, gallery: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(f"{indexed.db}.indexes")
    for feature in FEATURES:  # sidecars as the previous version wrote them
        sidecar = folder / f"{feature}.json"
        meta = json.loads(sidecar.read_text())
        del meta["sha256"]
        sidecar.write_text(json.dumps(meta))
    indexed = replace(indexed, index_save_share=0.5)  # a small write would not save by itself
    built = spy_on_builds(monkeypatch)
    with Collection(settings=indexed) as collection:
        assert built == []
        expected = results(collection, gallery)
        extra = tmp_path / "extra"
        extra.mkdir()
        shutil.copyfile(gallery / "coffee.png", extra / "coffee-again.png")
        collection.add([extra / "coffee-again.png"])  # one write: a new path, no new vector
    for feature in FEATURES:
        meta = json.loads((folder / f"{feature}.json").read_text())
        assert meta["sha256"] == hashlib.sha256((folder / f"{feature}.faiss").read_bytes()).hexdigest()
    damage_the_middle(folder / "color.faiss")
    with Collection(settings=indexed) as reopened:
        assert built == ["color"]
        assert results(reopened, gallery) == expected


def test_an_index_folder_replaced_by_a_file_is_a_clear_error(indexed: Settings) -> None:
    folder = Path(f"{indexed.db}.indexes")
    shutil.rmtree(folder)
    folder.write_text("someone's notes\n")
    with pytest.raises(errors.IndexFolderBlocked) as raised:
        Collection(settings=indexed)
    assert isinstance(raised.value, StoreError)
    assert raised.value.path == folder
    assert str(folder) in str(raised.value) and "move" in str(raised.value)
    assert folder.read_text() == "someone's notes\n"  # never deleted
    result = CliRunner().invoke(main, ["--db", str(indexed.db), "info"], catch_exceptions=False)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and str(folder) in lines[0], result.output
    assert "Traceback" not in result.output
    assert folder.read_text() == "someone's notes\n"

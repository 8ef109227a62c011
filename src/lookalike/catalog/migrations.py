"""Named, ordered schema migrations, applied on open. Never edit one that has shipped: add m00N.

They run with foreign keys off (a step may rebuild a table, as m006 does: with them on,
dropping the old table would cascade to every row that references it), and each step
commits only if `PRAGMA foreign_key_check` then finds no reference it broke."""

from __future__ import annotations

import sqlite3
from typing import Callable

from ..errors import StoreError


def _run_statements(db: sqlite3.Connection, script: str) -> None:
    """Execute `;`-separated DDL inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def m001_initial(db: sqlite3.Connection) -> None:
    _run_statements(
        db,
        """
        CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            bytes INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            format TEXT NOT NULL,
            label TEXT,
            added_at TEXT NOT NULL
        );
        CREATE INDEX images_label ON images(label);
        CREATE TABLE paths (
            path TEXT PRIMARY KEY,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            mtime_ns INTEGER NOT NULL,
            size INTEGER NOT NULL
        );
        CREATE INDEX paths_image ON paths(image_id);
        CREATE TABLE features (
            name TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            kind TEXT NOT NULL,
            dim INTEGER NOT NULL,
            generation INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE vectors (
            feature TEXT NOT NULL REFERENCES features(name),
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            data BLOB NOT NULL,
            PRIMARY KEY (feature, image_id)
        ) WITHOUT ROWID;
        CREATE INDEX vectors_image ON vectors(image_id);
        """
    )


def m002_meta(db: sqlite3.Connection) -> None:
    """Collection-level settings, e.g. thresholds chosen by `lookalike calibrate`."""
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def m003_feature_source(db: sqlite3.Connection) -> None:
    """Features learned by `lookalike train` record the model file that computes them."""
    db.execute("ALTER TABLE features ADD COLUMN source TEXT")


def m004_image_name(db: sqlite3.Connection) -> None:
    """A display name per image: uploads are stored under their hash, not their name."""
    db.execute("ALTER TABLE images ADD COLUMN name TEXT")


def m005_index_journal(db: sqlite3.Connection) -> None:
    """Every vector written or deleted, in order (triggers, so no write path can forget it):
    a saved index file catches up with the catalog by replaying what came after it, instead
    of being written again after every small write (1.4 GB at a million images)."""
    _run_statements(
        db,
        """
        CREATE TABLE index_journal (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            feature TEXT NOT NULL,
            image_id INTEGER NOT NULL
        );
        CREATE INDEX index_journal_feature ON index_journal(feature, seq)
        """,
    )
    for event, row in (("INSERT", "NEW"), ("DELETE", "OLD")):  # a trigger's body holds a ';'
        db.execute(
            f"CREATE TRIGGER index_journal_vector_{event.lower()} AFTER {event} ON vectors BEGIN "
            f"INSERT INTO index_journal (feature, image_id) VALUES ({row}.feature, {row}.image_id); END"
        )


_IMAGE_COLUMNS = "id, sha256, bytes, width, height, format, label, added_at, name"


def m006_image_ids_never_reused(db: sqlite3.Connection) -> None:
    """Image ids are never handed out again: SQLite gave a new image max(id) + 1, so
    removing the newest image and adding another gave the new one its id, and a client's
    `DELETE /v1/images/214`, `lookalike remove 214` or a signed URL could then reach the
    wrong picture. `AUTOINCREMENT` keeps the highest id ever used (in `sqlite_sequence`).
    SQLite cannot add it to a table, so `images` is rebuilt keeping every row and id (the
    12-step procedure of sqlite.org/lang_altertable.html: `migrate` turns foreign keys off,
    so dropping the old table touches no path or vector and fires no journal trigger of
    m005, which live on `vectors`; the check before the commit proves the references of
    `paths` and `vectors` intact). The high-water mark starts at the highest id known to
    have been used: the current ones, and those the index journal names (vectors written or
    deleted since the journal was last pruned, so images removed since then)."""
    _run_statements(
        db,
        f"""
        CREATE TABLE images_m006 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sha256 TEXT NOT NULL UNIQUE,
            bytes INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            format TEXT NOT NULL,
            label TEXT,
            added_at TEXT NOT NULL,
            name TEXT
        );
        INSERT INTO images_m006 ({_IMAGE_COLUMNS}) SELECT {_IMAGE_COLUMNS} FROM images;
        DROP TABLE images;
        ALTER TABLE images_m006 RENAME TO images;
        CREATE INDEX images_label ON images(label)
        """,
    )
    highest = db.execute(
        "SELECT max(coalesce((SELECT max(id) FROM images), 0), coalesce((SELECT max(image_id) FROM index_journal), 0))"
    ).fetchone()[0]
    db.execute("DELETE FROM sqlite_sequence WHERE name IN ('images', 'images_m006')")
    db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('images', ?)", (int(highest),))


def m007_pixel_digest_and_hash_detail(db: sqlite3.Connection) -> None:
    """Per image, the SHA-256 of its decoded pixels (an exact match is the same pixels, not
    the same hash bits) and how much its hashes can say (a smooth picture's bits are noise);
    see `lookalike.scoring`. Images stored before keep NULL: unknown (exact only for the
    same file; hashes trusted as before)."""
    db.execute("ALTER TABLE images ADD COLUMN pixel_digest TEXT")
    db.execute("ALTER TABLE images ADD COLUMN hash_detail REAL")


def m008_dedup_marks_and_actions(db: sqlite3.Connection) -> None:
    """What `lookalike duplicates --apply` did and what people said about groups
    (`lookalike.curate`). A run's steps are journaled before a file is touched and marked
    done after, so a crash leaves a journal that `undo` or the next run completes; marks
    name images by content (SHA-256), so they survive re-indexing and moves."""
    _run_statements(
        db,
        """
        CREATE TABLE dedup_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            action TEXT NOT NULL,
            target TEXT,
            rules TEXT NOT NULL,
            state TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE TABLE dedup_steps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES dedup_runs(id),
            action TEXT NOT NULL,
            path TEXT NOT NULL,
            keeper TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            label TEXT,
            destination TEXT,
            state TEXT NOT NULL,
            error TEXT
        );
        CREATE INDEX dedup_steps_run ON dedup_steps(run_id, id);
        CREATE TABLE dedup_marks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            members TEXT NOT NULL,
            note TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (kind, members)
        )
        """,
    )



def m009_video_frames(db: sqlite3.Connection) -> None:
    """Videos are indexed as sampled frames (`lookalike.video`), each an image row tied to its
    video and its time. The video is its first kept frame (the poster): the row that carries
    the file's SHA-256 and its paths, so re-indexing, linking identical copies and pruning
    work as for a picture; the other frames have no path of their own (their SHA-256 is made
    up from the video's and the time) and leave with the poster (`Catalog.remove_image`)."""
    _run_statements(
        db,
        """
        CREATE TABLE video_frames (
            image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
            video_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            seconds REAL NOT NULL
        );
        CREATE INDEX video_frames_video ON video_frames(video_id, seconds)
        """,
    )

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_initial,
    m002_meta,
    m003_feature_source,
    m004_image_name,
    m005_index_journal,
    m006_image_ids_never_reused,
    m007_pixel_digest_and_hash_detail,
    m008_dedup_marks_and_actions,
    m009_video_frames,
]


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema to the newest version; `PRAGMA user_version` counts applied steps."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise StoreError(
            f"store schema version {current} is newer than this lookalike knows "
            f"({len(MIGRATIONS)}): upgrade lookalike"
        )
    if current == len(MIGRATIONS):
        return
    enforced = db.execute("PRAGMA foreign_keys").fetchone()[0]
    db.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: set before BEGIN
    broken_before = len(db.execute("PRAGMA foreign_key_check").fetchall())  # a step answers only for its own
    try:
        for number, step in enumerate(MIGRATIONS[current:], start=current + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                # another process may have applied it while we waited for the write lock
                if db.execute("PRAGMA user_version").fetchone()[0] < number:
                    step(db)
                    _check_references(db, step.__name__, broken_before)
                    db.execute(f"PRAGMA user_version = {number}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
    finally:
        db.execute(f"PRAGMA foreign_keys = {'ON' if enforced else 'OFF'}")


def _check_references(db: sqlite3.Connection, step: str, broken_before: int) -> None:
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if len(broken) > broken_before:
        table, row, parent, _ = broken[-1]
        raise StoreError(
            f"migration {step} would break {len(broken) - broken_before} references (e.g. {table} row {row} "
            f"-> {parent}); it was rolled back: report this with the store's schema (sqlite3 FILE .schema)"
        )

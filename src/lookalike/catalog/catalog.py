"""The SQLite catalog: images, their paths, labels and every feature vector.

SQLite is the source of truth; the FAISS indexes in `lookalike.vectors` are derived from
it and rebuilt when their recorded generation differs from the catalog's. Every change
runs in one transaction, so a crash leaves either all or nothing of a batch. Image ids
are never reused, not even the highest one after it was removed (`AUTOINCREMENT`,
`migrations.m006_image_ids_never_reused`).
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..errors import FeatureMismatch, StoreError
from ..features.base import FeatureSpec
from ..records import ImageRecord
from .migrations import migrate

_JOURNAL_PRUNED = "index_journal_pruned_through"
_IMAGE_COLUMNS = "id, sha256, bytes, width, height, format, label, added_at, name, pixel_digest, hash_detail"


class Catalog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a lookalike store ({exc})") from None
        try:
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA busy_timeout = 30000")
            migrate(self.db)
        except BaseException as exc:
            self.db.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"{self.path}: not a lookalike store ({exc})") from None
            raise

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- collection settings ----------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

    # --- features -------------------------------------------------------------------------

    def register_features(self, specs: Iterable[FeatureSpec]) -> None:
        """Record the features this store uses; refuse vectors from another version."""
        with self.transaction():
            for spec in specs:
                row = self.db.execute(
                    "SELECT version, kind, dim FROM features WHERE name = ?", (spec.name,)
                ).fetchone()
                if row is None:
                    self.db.execute(
                        "INSERT INTO features (name, version, kind, dim, source) VALUES (?, ?, ?, ?, ?)",
                        (spec.name, spec.version, spec.kind, spec.dim, spec.source),
                    )
                elif tuple(row) != (spec.version, spec.kind, spec.dim):
                    raise FeatureMismatch(
                        f"{self.path}: feature {spec.name!r} was stored as version {row[0]} "
                        f"({row[1]}, {row[2]}), this lookalike makes version {spec.version}; "
                        "index into a new --db, or remove the old store and re-index"
                    )

    def stored_features(self) -> list[dict[str, object]]:
        rows = self.db.execute("SELECT name, version, kind, dim, generation, source FROM features ORDER BY name")
        keys = ("name", "version", "kind", "dim", "generation", "source")
        return [{**dict(zip(keys, row)), "vectors": self.count_vectors(row[0])} for row in rows.fetchall()]

    def count_vectors(self, feature: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM vectors WHERE feature = ?", (feature,)).fetchone()[0])

    def generation(self, feature: str) -> int:
        row = self.db.execute("SELECT generation FROM features WHERE name = ?", (feature,)).fetchone()
        return int(row[0]) if row else 0

    def _bump_generation(self, features: Iterable[str] | None = None) -> None:
        if features is None:
            self.db.execute("UPDATE features SET generation = generation + 1")
            return
        self.db.executemany(
            "UPDATE features SET generation = generation + 1 WHERE name = ?",
            [(name,) for name in features],
        )

    # --- the index journal (every vector written or deleted, see migrations.m005) ------------

    def journal_position(self) -> int:
        """The newest journal entry's number (0 before any): how far an index that reflects
        the catalog as it is now has caught up."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'index_journal'").fetchone()
        return int(row[0]) if row else 0

    def journal_pruned_through(self) -> int:
        """Entries up to this number are gone: an index saved before it cannot catch up."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (_JOURNAL_PRUNED,)).fetchone()
        return int(row[0]) if row else 0

    def journaled_ids(self, feature: str, since: int, until: int) -> list[int]:
        """The images whose `feature` vector was written or deleted after entry `since`, up to `until`."""
        rows = self.db.execute(
            "SELECT DISTINCT image_id FROM index_journal WHERE feature = ? AND seq > ? AND seq <= ?",
            (feature, since, until),
        ).fetchall()
        return [row[0] for row in rows]

    def journal_count(self, feature: str, since: int) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM index_journal WHERE feature = ? AND seq > ?",
                              (feature, since)).fetchone()
        return int(row[0])

    def prune_journal(self, through: int) -> None:
        """Forget the entries every saved index has caught up with."""
        with self.transaction():
            self.db.execute("DELETE FROM index_journal WHERE seq <= ?", (through,))
            self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (_JOURNAL_PRUNED, str(through)))

    # --- images and paths -----------------------------------------------------------------

    def path_state(self, path: str) -> tuple[int, int, int] | None:
        """(image_id, mtime_ns, size) recorded for a path, or None."""
        row = self.db.execute(
            "SELECT image_id, mtime_ns, size FROM paths WHERE path = ?", (path,)
        ).fetchone()
        return tuple(row) if row else None

    def image_id_for_sha256(self, sha256: str) -> int | None:
        row = self.db.execute("SELECT id FROM images WHERE sha256 = ?", (sha256,)).fetchone()
        return int(row[0]) if row else None

    def insert_image(
        self, sha256: str, size: int, width: int, height: int, fmt: str, label: str | None, name: str | None = None,
        pixel_digest: str | None = None, hash_detail: float | None = None,
    ) -> int:
        """Call inside `transaction()`. The id is new: higher than any image ever stored."""
        added_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        cursor = self.db.execute(
            "INSERT INTO images (sha256, bytes, width, height, format, label, added_at, name, pixel_digest, hash_detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sha256, size, width, height, fmt, label, added_at, name, pixel_digest, hash_detail),
        )
        return int(cursor.lastrowid)

    def record_path(self, path: str, image_id: int, mtime_ns: int, size: int) -> int | None:
        """Call inside `transaction()`. A path that pointed elsewhere now points here;
        returns the id of the image that was dropped because no path led to it any more."""
        old = self.path_state(path)
        self.db.execute(
            "INSERT INTO paths (path, image_id, mtime_ns, size) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET image_id = excluded.image_id, "
            "mtime_ns = excluded.mtime_ns, size = excluded.size",
            (path, image_id, mtime_ns, size),
        )
        if old and old[0] != image_id and self._drop_image_if_orphaned(old[0]):
            return old[0]
        return None

    def put_vectors(self, feature: str, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Call inside `transaction()`."""
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors (feature, image_id, data) VALUES (?, ?, ?)",
            [(feature, int(i), np.ascontiguousarray(v).tobytes()) for i, v in zip(ids, vectors)],
        )
        self._bump_generation([feature])

    def get_vectors(self, spec: FeatureSpec, ids: Sequence[int]) -> np.ndarray:
        """Vectors of `ids`, in that order. Raises StoreError for ids without one."""
        found = self._vector_bytes(spec, ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise StoreError(f"no {spec.name} vector for image ids {missing[:10]}")
        if not ids:
            return np.empty((0, spec.width), dtype=spec.dtype)
        return np.stack([np.frombuffer(found[i], dtype=spec.dtype) for i in ids])

    def existing_vectors(self, spec: FeatureSpec, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of `ids` that have a vector, in id order."""
        found = self._vector_bytes(spec, ids)
        present = sorted(found)
        vectors = [np.frombuffer(found[i], dtype=spec.dtype) for i in present]
        return (np.asarray(present, dtype=np.int64),
                np.stack(vectors) if vectors else np.empty((0, spec.width), dtype=spec.dtype))

    def _vector_bytes(self, spec: FeatureSpec, ids: Sequence[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        for chunk in _chunks([int(i) for i in ids], 900):
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    f"SELECT image_id, data FROM vectors WHERE feature = ? AND image_id IN ({marks})",
                    (spec.name, *chunk),
                ).fetchall()
            )
        return found

    def iter_vectors(
        self, spec: FeatureSpec, batch: int = 10_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) of a feature in id order, `batch` rows at a time."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT image_id, data FROM vectors WHERE feature = ? AND image_id > ? "
                "ORDER BY image_id LIMIT ?",
                (spec.name, last, batch),
            ).fetchall()
            if not rows:
                return
            ids = np.array([row[0] for row in rows], dtype=np.int64)
            yield ids, np.stack([np.frombuffer(row[1], dtype=spec.dtype) for row in rows])
            last = int(ids[-1])

    def images_missing_feature(self, feature: str) -> list[int]:
        rows = self.db.execute(
            "SELECT id FROM images WHERE id NOT IN (SELECT image_id FROM vectors WHERE feature = ?)",
            (feature,),
        ).fetchall()
        return [row[0] for row in rows]

    def remove_image(self, image_id: int) -> bool:
        """Call inside `transaction()`. Drops the image, its paths and its vectors; a video's
        poster takes its other frames with it (`frames_by_video` names them first, for
        whoever must forget them too)."""
        self.db.executemany("DELETE FROM images WHERE id = ?",
                            [(frame,) for frame in self.frames_by_video([image_id]).get(image_id, [])])
        deleted = self.db.execute("DELETE FROM images WHERE id = ?", (image_id,)).rowcount
        if deleted:
            self._bump_generation()
        return bool(deleted)

    def remove_path(self, path: str) -> int | None:
        """Call inside `transaction()`. Returns the image id if the image went with it."""
        state = self.path_state(path)
        if state is None:
            return None
        self.db.execute("DELETE FROM paths WHERE path = ?", (path,))
        return state[0] if self._drop_image_if_orphaned(state[0]) else None

    def _drop_image_if_orphaned(self, image_id: int) -> bool:
        left = self.db.execute("SELECT 1 FROM paths WHERE image_id = ? LIMIT 1", (image_id,)).fetchone()
        return False if left else self.remove_image(image_id)

    # --- video frames (migrations.m009_video_frames) ------------------------------------------

    def insert_frame(self, image_id: int, video_id: int, seconds: float) -> None:
        """Call inside `transaction()`: `image_id` shows `video_id` (its poster's id; the
        poster is a frame of itself) at `seconds`."""
        self.db.execute("INSERT INTO video_frames (image_id, video_id, seconds) VALUES (?, ?, ?)",
                        (image_id, video_id, float(seconds)))

    def frames_by_video(self, ids: Sequence[int]) -> dict[int, list[int]]:
        """The other frames (ids, in time order) of each video among `ids` (posters)."""
        frames: dict[int, list[int]] = {}
        for chunk in _chunks([int(i) for i in ids], 900):
            marks = ",".join("?" * len(chunk))
            for video_id, image_id in self.db.execute(
                f"SELECT video_id, image_id FROM video_frames WHERE video_id IN ({marks}) AND image_id != video_id "
                "ORDER BY video_id, seconds", chunk,
            ):
                frames.setdefault(video_id, []).append(image_id)
        return frames

    def frame_times(self, ids: Sequence[int]) -> dict[int, tuple[int, float]]:
        """(video id, seconds) of each of `ids` that is a video frame."""
        found: dict[int, tuple[int, float]] = {}
        for chunk in _chunks([int(i) for i in ids], 900):
            marks = ",".join("?" * len(chunk))
            for image_id, video_id, seconds in self.db.execute(
                f"SELECT image_id, video_id, seconds FROM video_frames WHERE image_id IN ({marks})", chunk
            ):
                found[image_id] = (video_id, seconds)
        return found

    def frame_counts(self, video_ids: Sequence[int]) -> dict[int, int]:
        """How many frames (the poster included) each video among `video_ids` has."""
        counts: dict[int, int] = {}
        for chunk in _chunks([int(i) for i in video_ids], 900):
            marks = ",".join("?" * len(chunk))
            counts.update(self.db.execute(
                f"SELECT video_id, COUNT(*) FROM video_frames WHERE video_id IN ({marks}) GROUP BY video_id", chunk
            ).fetchall())
        return counts

    def paths_under(self, root: str) -> list[str]:
        prefix = root.rstrip("/") + "/"
        rows = self.db.execute(
            "SELECT path FROM paths WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
        ).fetchall()
        return [row[0] for row in rows]

    def images(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        records: dict[int, ImageRecord] = {}
        for chunk in _chunks(list(ids), 900):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM images WHERE id IN ({marks})", chunk
            ).fetchall()
            frames = self.frame_times(chunk)
            paths = self._paths_of(sorted(set(chunk) | {video for video, _ in frames.values()}))
            for row in rows:
                fields = dict(zip(_IMAGE_COLUMNS.split(", "), row))  # named as ImageRecord's fields
                video_id, seconds = frames.get(row[0], (None, None))
                own = paths.get(row[0] if video_id is None else video_id, ())  # a frame: its video's files
                records[row[0]] = ImageRecord(**fields, paths=tuple(own), video_id=video_id, seconds=seconds)
        return records

    def image(self, image_id: int) -> ImageRecord | None:
        return self.images([image_id]).get(image_id)

    def _paths_of(self, ids: Sequence[int]) -> dict[int, list[str]]:
        marks = ",".join("?" * len(ids))
        paths: dict[int, list[str]] = {}
        for image_id, path in self.db.execute(
            f"SELECT image_id, path FROM paths WHERE image_id IN ({marks}) ORDER BY path", list(ids)
        ):
            paths.setdefault(image_id, []).append(path)
        return paths

    def images_with_several_paths(self) -> list[int]:
        """Images stored once for byte-identical files at several paths."""
        rows = self.db.execute("SELECT image_id FROM paths GROUP BY image_id HAVING COUNT(*) > 1")
        return [row[0] for row in rows]

    def image_ids(self) -> list[int]:
        return [row[0] for row in self.db.execute("SELECT id FROM images ORDER BY id")]

    def counts(self) -> dict[str, int]:
        one = self.db.execute
        return {
            "images": one("SELECT COUNT(*) FROM images").fetchone()[0],
            "paths": one("SELECT COUNT(*) FROM paths").fetchone()[0],
            "labels": one("SELECT COUNT(DISTINCT label) FROM images").fetchone()[0],
        }


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

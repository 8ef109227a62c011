"""The embedded store: a SQLite catalog plus one FAISS index per feature, in local files.

Layout: `NAME.db` (catalog, the source of truth) and `NAME.db.indexes/FEATURE.faiss`
with a `.json` sidecar naming the catalog's journal entry the file reflects and the file's
SHA-256, checked on open (`vectors.faiss_index`: ~1 s at a million images). The catalog
journals every vector written or deleted (`catalog.migrations.m005_index_journal`), so an
index file that is behind (not saved since the last writes, or a crash between the catalog
commit and the save) catches up on open by replaying the entries after it. A write
therefore saves an index file only when the entries since its last save reach
`Settings.index_save_share` of its size (a single add at a million images would otherwise write 1.4 GB);
the journal is pruned up to the oldest saved file. A file that is missing, damaged (its
bytes no longer match its checksum: a warning names it), older than the pruned entries or
still at odds with the catalog's count is rebuilt from the catalog's vectors, so the two
can never silently disagree; the next write saves the rebuilt file. A file from before
checksums is trusted once and saved again, checksummed, at the next write. An index
folder that is a file is an error (`IndexFolderBlocked`): it may be someone's, so it is
never deleted. One writer at a time (a lock file); readers in other processes catch up
with `refresh()`. Image ids are never reused (`catalog.migrations.m006`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Sequence

import numpy as np

from ..catalog import Catalog
from ..catalog.dedup_book import DedupBook
from ..errors import IndexFolderBlocked
from ..features.base import FeatureSpec
from ..layout import Layout
from ..records import ImageRecord
from ..settings import Settings
from ..vectors import VectorIndex, choose_factory, training_size
from ..vectors.faiss_index import SCAN_CELLS
from .base import NewImage, PathLink, Store

# An approximate float index proposes this many times k candidates; the catalog's exact
# vectors re-rank them (the 8-bit codes alone blur close rankings).
RERANK_FACTOR = 3

class EmbeddedStore(Store):
    def __init__(self, settings: Settings) -> None:
        layout = Layout(settings.db)
        self.index_dir = layout.indexes
        _check_folder(self.index_dir)
        self.catalog = Catalog(settings.db)
        self._open_features(settings)
        self._lock_path = layout.lock
        # The journal entry each in-memory index reflects, and each index file.
        self._caught_up: dict[str, int] = {}
        self._saved: dict[str, int] = {}
        self._unchecksummed: set[str] = set()  # files from before checksums: saved at the next write
        self._in_doubt = False  # see `_mirrored`
        self.indexes: dict[str, VectorIndex] = {spec.name: self._open_index(spec) for spec in self.specs}

    @property
    def location(self) -> str:
        return str(self.catalog.path)

    def _close(self) -> None:
        self.catalog.close()

    # --- metadata ---------------------------------------------------------------------------

    def stored_features(self) -> list[dict[str, object]]:
        features = self.catalog.stored_features()
        for feature in features:
            index = getattr(self, "indexes", {}).get(str(feature["name"]))
            feature["index"] = index.factory if index is not None else None
        return features

    def _record_features(self, specs: Sequence[FeatureSpec]) -> None:
        self.catalog.register_features(specs)

    def meta(self) -> dict[str, str]:
        return self.catalog.meta()

    def set_meta(self, values: dict[str, str]) -> None:
        self.catalog.set_meta(values)

    def path_state(self, path: str) -> tuple[int, int, int] | None:
        return self.catalog.path_state(path)

    def dedup_book(self) -> DedupBook:
        return DedupBook(self.catalog.db)

    def image_id_for_sha256(self, sha256: str) -> int | None:
        return self.catalog.image_id_for_sha256(sha256)

    supports_video = True

    def with_frames(self, ids: Sequence[int]) -> list[int]:
        frames = self.catalog.frames_by_video(ids)
        return [frame for video in ids for frame in frames.get(int(video), [])] + list(ids)

    def frame_times(self, ids: Sequence[int]) -> dict[int, tuple[int, float]]:
        return self.catalog.frame_times(ids)

    def frame_counts(self, video_ids: Sequence[int]) -> dict[int, int]:
        return self.catalog.frame_counts(video_ids)

    def images(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        return self.catalog.images(ids)

    def image_ids(self) -> list[int]:
        return self.catalog.image_ids()

    def counts(self) -> dict[str, int]:
        return self.catalog.counts()

    def images_with_several_paths(self) -> list[int]:
        return self.catalog.images_with_several_paths()

    def paths_under(self, root: str) -> list[str]:
        return self.catalog.paths_under(root)

    def version(self) -> tuple[int, ...]:
        return tuple(self.catalog.generation(spec.name) for spec in self.specs)

    def disk_usage(self) -> tuple[int, int]:
        """(catalog bytes incl. its write-ahead log, index bytes)."""
        catalog = sum(
            path.stat().st_size
            for path in (self.settings.db, Path(f"{self.settings.db}-wal"))
            if path.exists()
        )
        indexes = sum(p.stat().st_size for p in self.index_dir.glob("*")) if self.index_dir.exists() else 0
        return catalog, indexes

    # --- writes -----------------------------------------------------------------------------

    def add_batch(
        self, new: Sequence[NewImage], vectors: dict[str, np.ndarray], links: Sequence[PathLink]
    ) -> tuple[list[int], list[int]]:
        with self._mirrored():
            return self._add_batch(new, vectors, links)

    def _add_batch(
        self, new: Sequence[NewImage], vectors: dict[str, np.ndarray], links: Sequence[PathLink]
    ) -> tuple[list[int], list[int]]:
        catalog = self.catalog
        dropped: list[int] = []
        # the frames of videos whose path may now show other content leave with their poster
        frames = catalog.frames_by_video([state[0] for state in map(catalog.path_state, {i.path for i in new} |
                                                                    {link.path for link in links}) if state])
        with catalog.transaction():
            ids = []
            posters: dict[str, int] = {}
            for image in new:
                image_id = catalog.insert_image(
                    image.sha256, image.size, image.width, image.height, image.format, image.label, image.name,
                    image.pixel_digest, image.hash_detail,
                )
                if image.is_poster:
                    _collect(catalog.record_path(image.path, image_id, image.mtime_ns, image.size), dropped)
                    posters[image.sha256] = image_id
                if image.seconds is not None:  # its poster: in this batch, or stored before (`migrate`)
                    video = image.video_sha256 or image.sha256
                    catalog.insert_frame(image_id, posters.get(video) or catalog.image_id_for_sha256(video), image.seconds)
                ids.append(image_id)
            for spec in self.specs:
                catalog.put_vectors(spec.name, ids, vectors[spec.name])
            for link in links:
                image_id = catalog.image_id_for_sha256(link.sha256)
                _collect(catalog.record_path(link.path, image_id, link.mtime_ns, link.size), dropped)
        dropped = [frame for video in dropped for frame in frames.get(video, [])] + dropped
        self._remove_from_indexes(dropped)
        id_array = np.asarray(ids, dtype=np.int64)
        for name, index in self.indexes.items():
            index.add(id_array, vectors[name])
        return ids, dropped

    def remove_images(self, ids: Sequence[int]) -> list[int]:
        with self._mirrored():
            with self.catalog.transaction():
                removed = [image_id for image_id in self.with_frames(ids) if self.catalog.remove_image(int(image_id))]
            self._remove_from_indexes(removed)
        return removed

    def remove_paths(self, paths: Sequence[str]) -> list[int]:
        dropped: list[int] = []
        frames = self.catalog.frames_by_video([state[0] for state in map(self.catalog.path_state, paths) if state])
        with self._mirrored():
            with self.catalog.transaction():
                for path in paths:
                    _collect(self.catalog.remove_path(path), dropped)
            dropped = [frame for video in dropped for frame in frames.get(video, [])] + dropped
            self._remove_from_indexes(dropped)
        return dropped

    @contextmanager
    def _mirrored(self) -> Iterator[None]:
        """A catalog write and the same change made to the in-memory indexes. Should it
        fail between the commit and the last index update, the indexes are in doubt: the
        next save replays the journal into them rather than trusting them."""
        self._in_doubt = True
        yield
        self._in_doubt = False

    def _remove_from_indexes(self, ids: Sequence[int]) -> None:
        id_array = np.asarray(ids, dtype=np.int64)
        for index in self.indexes.values():
            index.remove(id_array)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time per store (an exclusive lock file): catch up with what
        other processes wrote, let the caller write, then save the indexes, also when the
        caller is interrupted."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            _lock_exclusive(lock)
            try:
                self.refresh()
                yield
            finally:
                self.save_indexes()

    # --- vectors ----------------------------------------------------------------------------

    def vectors(self, feature: str, ids: Sequence[int]) -> np.ndarray:
        return self.catalog.get_vectors(self.spec(feature), ids)

    def iter_vectors(self, feature: str, batch: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.catalog.iter_vectors(self.spec(feature), batch)

    def search_vectors(self, feature: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        index = self.indexes[feature]
        if not index.approximate or index.spec.kind == "binary":  # exact distances already
            return index.search(queries, k)
        _, ids = index.search(queries, RERANK_FACTOR * k + 10)
        return self._rerank_exactly(index.spec, queries, ids, k)

    def search_candidates(self, feature: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The index's own k nearest: an approximate index's similarities come from its codes,
        which is enough to choose candidates (reading exact vectors from the catalog to
        re-rank them would cost more than the index search itself at a million)."""
        return self.indexes[feature].search(queries, k)

    def search_close(self, feature: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Only the few cells around each query: a copy sits in or next to its original's."""
        return self.indexes[feature].search(queries, k, cells=SCAN_CELLS)

    def close_pairs(
        self, feature: str, min_similarity: float, k: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        index = self.indexes[feature]
        if index.approximate and index.spec.kind != "binary":  # cell by cell: no coarse search per vector
            return index.close_pairs(min_similarity, k)
        return super().close_pairs(feature, min_similarity, k)

    def _rerank_exactly(
        self, spec: FeatureSpec, queries: np.ndarray, ids: np.ndarray, k: int, chunk: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best of each row of candidate `ids` by exact inner product with the
        catalog's vectors (fetched once per chunk of queries, so memory stays bounded)."""
        k = min(k, ids.shape[1])
        similarities, best = np.zeros((len(ids), k)), np.full((len(ids), k), -1, dtype=np.int64)
        for start in range(0, len(ids), chunk):
            rows = ids[start : start + chunk]
            unique = np.unique(rows[rows >= 0])
            if not len(unique):
                continue
            exact = self.catalog.get_vectors(spec, unique.tolist()).astype(np.float32)
            candidates = exact[np.searchsorted(unique, np.maximum(rows, 0))]
            scores = np.einsum("qd,qcd->qc", queries[start : start + chunk].astype(np.float32), candidates)
            scores = np.where(rows >= 0, scores, -np.inf)
            order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            top = np.take_along_axis(scores, order, axis=1)
            similarities[start : start + chunk] = np.clip(np.where(np.isfinite(top), top, 0.0), 0.0, 1.0)
            best[start : start + chunk] = np.where(np.isfinite(top), np.take_along_axis(rows, order, axis=1), -1)
        return similarities, best

    def range_search(
        self, feature: str, queries: np.ndarray, min_similarity: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.indexes[feature].range_search(queries, min_similarity)

    def index_size(self, feature: str) -> int:
        return len(self.indexes[feature])

    # --- keeping the indexes in step with the catalog -----------------------------------------

    def refresh(self) -> None:
        """Catch the in-memory indexes up with what other processes wrote since we read them:
        replayed from the journal, or read again from their files when the journal was
        pruned past them."""
        position, pruned = self.catalog.journal_position(), self.catalog.journal_pruned_through()
        for spec in self.specs:
            seen = self._caught_up.get(spec.name, -1)
            if seen == position:
                continue
            if seen >= pruned:
                self._catch_up(spec, self.indexes[spec.name], seen)
            else:
                self.indexes[spec.name] = self._open_index(spec)

    def save_indexes(self) -> None:
        """Persist the indexes whose files have fallen `Settings.index_save_share` behind (or have none)
        or that change kind (exact <-> approximate, or an approximate one that grew or shrank
        far past what its cells were learned for, retrained); then prune the journal up to
        the oldest file. Call under `writing()`: this process's own writes are then the only
        ones since `refresh`, and its indexes hold them, unless one failed halfway (see
        `_mirrored`). An index about to be saved whose size disagrees with the catalog is
        rebuilt rather than saved. Counting a feature's vectors reads its whole table (3 s
        at a million images), so it is done only then."""
        _check_folder(self.index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        position = self.catalog.journal_position()
        for spec in self.specs:
            index = self.indexes[spec.name]
            if self._in_doubt:
                self._catch_up(spec, index, self._caught_up.get(spec.name, -1))
            self._caught_up[spec.name] = position
            saved = self._saved.get(spec.name, -1)
            behind = (saved < 0 or spec.name in self._unchecksummed
                      or self.catalog.journal_count(spec.name, saved) > self.settings.index_save_share * len(index))
            if not behind and not index.needs_rebuild(len(index), self.settings.max_exact_vectors):
                continue
            count = self.catalog.count_vectors(spec.name)
            if len(index) != count or index.needs_rebuild(count, self.settings.max_exact_vectors):
                wanted = choose_factory(spec, count, self.settings.max_exact_vectors)
                index = self.indexes[spec.name] = self._build_index(spec, wanted)
            index.save(self._index_path(spec), self.catalog.generation(spec.name), position)
            self._saved[spec.name] = position
            self._unchecksummed.discard(spec.name)
        self._in_doubt = False
        oldest = min(self._saved.values(), default=0)
        if oldest > self.catalog.journal_pruned_through():
            self.catalog.prune_journal(oldest)

    def _index_path(self, spec: FeatureSpec) -> Path:
        return self.index_dir / f"{spec.name}.faiss"

    def _open_index(self, spec: FeatureSpec) -> VectorIndex:
        """The saved index caught up with the journal, else one built from the catalog."""
        loaded = VectorIndex.load(spec, self._index_path(spec))
        if loaded is not None:
            index, meta = loaded
            saved = meta.get("journal")
            if saved is None and meta.get("generation") == self.catalog.generation(spec.name):
                saved = self.catalog.journal_position()  # saved before the journal, and current
            if saved is not None and int(saved) >= self.catalog.journal_pruned_through():
                self._saved[spec.name] = int(saved)
                if not meta["checksummed"]:
                    self._unchecksummed.add(spec.name)
                # a file that needed no replay is as current as its sidecar says (counting
                # the catalog's vectors reads the whole table: seconds at a million)
                if not self._catch_up(spec, index, int(saved)) or len(index) == self.catalog.count_vectors(spec.name):
                    return index
        self._saved[spec.name] = -1  # nothing usable on disk: the next save writes it
        self._caught_up[spec.name] = self.catalog.journal_position()  # before reading: later writes get replayed
        count = self.catalog.count_vectors(spec.name)
        return self._build_index(spec, choose_factory(spec, count, self.settings.max_exact_vectors))

    def _catch_up(self, spec: FeatureSpec, index: VectorIndex, since: int) -> int:
        """Replay the journal after entry `since` into `index`: every image it names loses
        its vector and gets the catalog's current one back, if it still has one (so a
        replay that overlaps writes already applied does no harm). Returns how many
        images it named."""
        until = self.catalog.journal_position()
        ids = self.catalog.journaled_ids(spec.name, since, until)
        if ids:
            index.remove(np.asarray(ids, dtype=np.int64))
            present, vectors = self.catalog.existing_vectors(spec, ids)
            if len(present):
                index.add(present, vectors)
        self._caught_up[spec.name] = until
        return len(ids)

    def _build_index(self, spec: FeatureSpec, factory: str) -> VectorIndex:
        """Build from the catalog's vectors, streaming them in batches."""
        index = VectorIndex(spec, factory)
        if index.needs_training:
            index.train(self._training_sample(spec, training_size(factory)))
        for ids, vectors in self.catalog.iter_vectors(spec):
            index.add(ids, vectors)
        return index

    def _training_sample(self, spec: FeatureSpec, size: int) -> np.ndarray:
        """An evenly spread sample of stored vectors; never the whole collection in memory."""
        ids = self.catalog.image_ids()
        step = max(1, len(ids) // max(size, 1))
        return self.catalog.get_vectors(spec, ids[::step][:size])


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise IndexFolderBlocked(folder)


def _collect(dropped_id: int | None, dropped: list[int]) -> None:
    if dropped_id is not None:
        dropped.append(dropped_id)


def _lock_exclusive(lock: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:  # not POSIX: single-writer use is up to the caller
        return
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes

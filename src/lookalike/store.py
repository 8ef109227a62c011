"""An opened collection on disk: the SQLite catalog plus one vector index per feature.

Layout: `NAME.db` (catalog, the source of truth) and `NAME.db.indexes/FEATURE.faiss`
with a `.json` sidecar. An index whose sidecar generation differs from the catalog's
(a crash between the catalog commit and the index save, or a file deleted by hand) is
rebuilt from the catalog's vectors on open, so the two can never silently disagree.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Iterator, Sequence

import numpy as np

from .catalog import Catalog
from .features.base import FeatureSpec
from .errors import FeatureMismatch, LookalikeError, StoreError
from .features.registry import get_spec, register_model_file
from .settings import Settings
from .vectors import VectorIndex, choose_factory

_TRAINING_SAMPLE = 100_000
CANDIDATE_FAMILIES = ("hash", "embedding")
CALIBRATED_SETTINGS = ("min_near_duplicate_score", "min_same_score")


class Store:
    def __init__(self, settings: Settings) -> None:
        self.catalog = Catalog(settings.db)
        # An existing store keeps the features it was made with; Settings.features only
        # chooses them for a new one.
        names = self._feature_names(settings)
        self.settings = replace(settings, features=tuple(names), **self._calibrated_thresholds())
        self.specs: list[FeatureSpec] = [get_spec(name) for name in names]
        self.catalog.register_features(self.specs)
        self.index_dir = Path(str(settings.db) + ".indexes")
        self._lock_path = Path(f"{settings.db}.lock")
        # The catalog generation each in-memory index reflects.
        self._synced: dict[str, int] = {}
        self.indexes: dict[str, VectorIndex] = {spec.name: self._open_index(spec) for spec in self.specs}

    def close(self) -> None:
        self.catalog.close()

    def _feature_names(self, settings: Settings) -> list[str]:
        """The store's own features (loading any learned model files they need); for a new
        store, the settings' features, plus the feature of `settings.model` if given."""
        stored = self.catalog.stored_features()
        for feature in stored:
            if feature["source"]:
                try:
                    register_model_file(str(feature["source"]))
                except LookalikeError as exc:
                    raise StoreError(f"{settings.db}: feature {feature['name']} needs its model file: {exc}") from None
        names = [str(f["name"]) for f in stored] or list(settings.features)
        if settings.model is not None:
            learned = register_model_file(settings.model).name
            if learned not in names:
                if self.catalog.counts()["images"]:
                    raise FeatureMismatch(
                        f"{settings.db} holds vectors made without model {learned} "
                        f"({', '.join(names)}); index with this model into a new --db"
                    )
                names.append(learned)
        return names

    def _calibrated_thresholds(self) -> dict[str, float]:
        """Thresholds `lookalike calibrate` stored with the collection override the defaults."""
        meta = self.catalog.meta()
        return {key: float(meta[key]) for key in CALIBRATED_SETTINGS if key in meta}

    def calibrate(self, thresholds: dict[str, float]) -> None:
        unknown = set(thresholds) - set(CALIBRATED_SETTINGS)
        if unknown:
            raise ValueError(f"not a calibrated setting: {sorted(unknown)}")
        self.catalog.set_meta({key: repr(float(value)) for key, value in thresholds.items()})
        self.settings = replace(self.settings, **thresholds)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def candidate_features(self) -> list[str]:
        """Features whose indexes propose candidates: the copy detectors (hashes,
        embeddings); colour and texture only re-score, unless they are all there is."""
        names = [s.name for s in self.specs if s.family in CANDIDATE_FAMILIES]
        return names or [s.name for s in self.specs]

    def disk_usage(self) -> tuple[int, int]:
        """(catalog bytes incl. its write-ahead log, index bytes)."""
        catalog = sum(
            path.stat().st_size
            for path in (self.settings.db, Path(f"{self.settings.db}-wal"))
            if path.exists()
        )
        indexes = sum(p.stat().st_size for p in self.index_dir.glob("*")) if self.index_dir.exists() else 0
        return catalog, indexes

    def spec(self, name: str) -> FeatureSpec:
        return next(spec for spec in self.specs if spec.name == name)

    # --- vectors ------------------------------------------------------------------------------

    def vectors(self, feature: str, ids: Sequence[int]) -> np.ndarray:
        return self.catalog.get_vectors(self.spec(feature), ids)

    def add_to_indexes(self, ids: Sequence[int], vectors: dict[str, np.ndarray]) -> None:
        """Mirror vectors already committed to the catalog into the in-memory indexes."""
        id_array = np.asarray(ids, dtype=np.int64)
        for name, index in self.indexes.items():
            index.add(id_array, vectors[name])

    def remove_from_indexes(self, ids: Sequence[int]) -> None:
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

    def refresh(self) -> None:
        """Reload (or rebuild) the indexes whose catalog generation moved on since we read them."""
        for spec in self.specs:
            if self.catalog.generation(spec.name) != self._synced.get(spec.name):
                self.indexes[spec.name] = self._open_index(spec)

    def save_indexes(self) -> None:
        """Persist every index, switching to the kind its size calls for (exact -> approximate).
        Call under `writing()`. An index whose size disagrees with the catalog (a write
        interrupted between commit and index update) is rebuilt rather than saved."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            generation = self.catalog.generation(spec.name)
            index = self.indexes[spec.name]
            wanted = choose_factory(spec, len(index), self.settings.max_exact_vectors)
            if len(index) != self.catalog.count_vectors(spec.name) or (
                _is_approximate(wanted) != _is_approximate(index.factory)
            ):
                index = self.indexes[spec.name] = self._build_index(spec, wanted)
            index.save(self._index_path(spec), generation)
            self._synced[spec.name] = generation

    # --- opening and rebuilding -------------------------------------------------------------

    def _index_path(self, spec: FeatureSpec) -> Path:
        return self.index_dir / f"{spec.name}.faiss"

    def _open_index(self, spec: FeatureSpec) -> VectorIndex:
        generation = self.catalog.generation(spec.name)  # read first: a later write only makes us reload
        self._synced[spec.name] = generation
        loaded = VectorIndex.load(spec, self._index_path(spec), generation)
        if loaded is not None:
            return loaded
        count = self.catalog.count_vectors(spec.name)
        return self._build_index(spec, choose_factory(spec, count, self.settings.max_exact_vectors))

    def _build_index(self, spec: FeatureSpec, factory: str) -> VectorIndex:
        """Build from the catalog's vectors, streaming them in batches."""
        index = VectorIndex(spec, factory)
        if index.needs_training:
            index.train(self._training_sample(spec))
        for ids, vectors in self.catalog.iter_vectors(spec):
            index.add(ids, vectors)
        return index

    def _training_sample(self, spec: FeatureSpec) -> np.ndarray:
        """An evenly spread sample of stored vectors; never the whole collection in memory."""
        ids = self.catalog.image_ids()
        step = max(1, len(ids) // _TRAINING_SAMPLE)
        return self.catalog.get_vectors(spec, ids[::step])


def _lock_exclusive(lock: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:  # not POSIX: single-writer use is up to the caller
        return
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes


def _is_approximate(factory: str) -> bool:
    """Growing within a family (IVF1024 -> IVF2048) is not worth a rebuild; crossing one is."""
    return factory.startswith("IVF")

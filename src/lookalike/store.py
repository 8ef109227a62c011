"""An opened collection on disk: the SQLite catalog plus one vector index per feature.

Layout: `NAME.db` (catalog, the source of truth) and `NAME.db.indexes/FEATURE.faiss`
with a `.json` sidecar. An index whose sidecar generation differs from the catalog's
(a crash between the catalog commit and the index save, or a file deleted by hand) is
rebuilt from the catalog's vectors on open, so the two can never silently disagree.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .catalog import Catalog
from .features.base import FeatureSpec
from .features.registry import get_spec
from .settings import Settings
from .vectors import VectorIndex, choose_factory

_TRAINING_SAMPLE = 100_000
CANDIDATE_FAMILIES = ("hash", "embedding")


class Store:
    def __init__(self, settings: Settings) -> None:
        self.catalog = Catalog(settings.db)
        # An existing store keeps the features it was made with; Settings.features only
        # chooses them for a new one.
        names = [str(f["name"]) for f in self.catalog.stored_features()] or list(settings.features)
        self.settings = replace(settings, features=tuple(names))
        self.specs: list[FeatureSpec] = [get_spec(name) for name in names]
        self.catalog.register_features(self.specs)
        self.index_dir = Path(str(settings.db) + ".indexes")
        self.indexes: dict[str, VectorIndex] = {spec.name: self._open_index(spec) for spec in self.specs}

    def close(self) -> None:
        self.catalog.close()

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

    def save_indexes(self) -> None:
        """Persist every index, switching to the kind its size calls for (exact -> approximate)."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            index = self.indexes[spec.name]
            wanted = choose_factory(spec, len(index), self.settings.max_exact_vectors)
            if _is_approximate(wanted) != _is_approximate(index.factory):
                index = self.indexes[spec.name] = self._build_index(spec, wanted)
            index.save(self._index_path(spec), self.catalog.generation(spec.name))

    # --- opening and rebuilding -------------------------------------------------------------

    def _index_path(self, spec: FeatureSpec) -> Path:
        return self.index_dir / f"{spec.name}.faiss"

    def _open_index(self, spec: FeatureSpec) -> VectorIndex:
        generation = self.catalog.generation(spec.name)
        loaded = VectorIndex.load(spec, self._index_path(spec), generation)
        if loaded is not None:
            return loaded
        count = next((f["vectors"] for f in self.catalog.stored_features() if f["name"] == spec.name), 0)
        return self._build_index(spec, choose_factory(spec, int(count), self.settings.max_exact_vectors))

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


def _is_approximate(factory: str) -> bool:
    """Growing within a family (IVF1024 -> IVF2048) is not worth a rebuild; crossing one is."""
    return factory.startswith("IVF")

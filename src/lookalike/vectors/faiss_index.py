"""One FAISS index per feature. Ids are image ids; similarities are in [0, 1].

Binary features (hashes) use an exact Hamming index: 8 bytes per image, fast enough to
scan in full well past a million images. Float features use an index named by a FAISS
factory string, chosen by size (`choose_factory`): exact inner product ("Flat") while the
collection is small, an inverted file with 8-bit scalar quantisation when it grows. The
factory string is saved with the index so a reload rebuilds the same kind.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import faiss
import numpy as np

from ..features.base import FeatureSpec

BINARY_FACTORY = "BFlat"


def choose_factory(spec: FeatureSpec, count: int, max_exact: int) -> str:
    """The factory string for `count` vectors of `spec`."""
    if spec.kind == "binary":
        return BINARY_FACTORY
    if count <= max_exact:
        return "Flat"
    lists = 2 ** round(math.log2(4 * math.sqrt(count)))
    return f"IVF{lists},SQ8"


class VectorIndex:
    """A FAISS index over one feature's vectors, keyed by image id."""

    def __init__(self, spec: FeatureSpec, factory: str) -> None:
        self.spec = spec
        self.factory = factory
        self.index = _new_index(spec, factory)

    # --- building ---------------------------------------------------------------------------

    @property
    def needs_training(self) -> bool:
        return not self.index.is_trained

    def train(self, sample: np.ndarray) -> None:
        self.index.train(np.ascontiguousarray(sample))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    # --- querying ---------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids), each (n_queries, k'), best first; k' <= k, no padding."""
        k = min(k, len(self))
        if k == 0:
            return np.empty((len(queries), 0)), np.empty((len(queries), 0), dtype=np.int64)
        distances, ids = self.index.search(np.ascontiguousarray(queries), k)
        return self._to_similarity(distances), ids

    def range_search(
        self, queries: np.ndarray, min_similarity: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """FAISS-style (lims, similarities, ids): hits of query i are [lims[i]:lims[i+1]]."""
        if self.spec.kind == "binary":
            # Hamming distance strictly below the radius <=> similarity >= min_similarity.
            radius = int(math.floor((1.0 - min_similarity) * self.spec.dim + 1e-9)) + 1
            lims, distances, ids = self.index.range_search(np.ascontiguousarray(queries), radius)
        else:
            lims, distances, ids = self.index.range_search(
                np.ascontiguousarray(queries), float(min_similarity) - 1e-6
            )
        return lims, self._to_similarity(distances), ids

    def _to_similarity(self, distances: np.ndarray) -> np.ndarray:
        if self.spec.kind == "binary":
            return 1.0 - distances.astype(np.float64) / self.spec.dim
        return np.clip(distances.astype(np.float64), 0.0, 1.0)

    # --- persistence ------------------------------------------------------------------------

    def save(self, path: Path, generation: int) -> None:
        """Write atomically: index file, then the sidecar that vouches for it."""
        tmp = path.with_suffix(".faiss.tmp")
        if self.spec.kind == "binary":
            faiss.write_index_binary(self.index, str(tmp))
        else:
            faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)
        _write_json(_sidecar(path), self.describe(generation))

    def describe(self, generation: int) -> dict[str, object]:
        return {
            "feature": self.spec.name,
            "version": self.spec.version,
            "factory": self.factory,
            "count": len(self),
            "generation": generation,
        }

    @classmethod
    def load(cls, spec: FeatureSpec, path: Path, generation: int) -> "VectorIndex | None":
        """The saved index if it matches the catalog's generation, else None (rebuild)."""
        try:
            meta = json.loads(_sidecar(path).read_text())
            if (meta["generation"], meta["version"]) != (generation, spec.version):
                return None
            if spec.kind == "binary":
                index = faiss.read_index_binary(str(path))
            else:
                index = faiss.read_index(str(path))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        loaded = cls.__new__(cls)
        loaded.spec, loaded.factory, loaded.index = spec, meta["factory"], index
        if len(loaded) != meta["count"]:
            return None
        return loaded


def _new_index(spec: FeatureSpec, factory: str) -> faiss.Index:
    if spec.kind == "binary":
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(spec.dim))
    if factory == "Flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(spec.dim))
    index = faiss.index_factory(spec.dim, factory, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = max(1, min(ivf.nlist, 32))
    return index


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)

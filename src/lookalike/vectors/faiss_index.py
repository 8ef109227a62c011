"""One FAISS index per feature. Ids are image ids; similarities are in [0, 1].

The index kind is a FAISS factory string chosen by size (`choose_factory`) and saved with
the index, so a reload rebuilds the same kind:

- up to `max_exact` vectors, exact search: "Flat" (inner product) for float features,
  "BFlat" (Hamming) for binary hashes;
- above it, a compressed approximate index: "IVF{n}_HNSW32,SQ8" for float features (an
  inverted file over k-means cells, each vector kept as 8-bit codes: a quarter of its
  float32 size; the query's nearest cells are found through a small HNSW graph over the
  cell centres, since comparing a 1280-d query with thousands of centres one by one cost
  more than scanning the cells themselves), "BIVF{n}" for hashes (the same over Hamming space; 8-byte hashes are their own
  codes, so distances stay exact and only the cells visited are approximate).

An inverted file removes ids in place (FAISS `remove_ids` on its lists), so add and remove
keep working after the switch without tombstones. Its cells are learned from a sample of
the vectors (`training_size`: never the whole collection in memory twice); `needs_rebuild`
says when the collection has grown or shrunk so far (`RETRAIN_FACTOR` in cells) that the
cells should be learned again, which the store does when it saves.
Approximate float results are exact-re-ranked by the store from the catalog's vectors.

A saved index's sidecar (`FEATURE.json`) records the SHA-256 of the index file's bytes, and
`load` checks it before trusting the file: bytes overwritten on disk with the length kept
(bit rot, a bad copy) read back as a valid index of NaNs and wrong ids, and only the
checksum tells. Hashing runs at ~1.4 GB/s on one core (measured on a 2-core VM:
SHA-256 with the CPU's SHA instructions; blake2b ran at half that): ~1 s per open at a
million images (1.4 GB of index files), once per open, never per query. A file from before
checksums has none: `load` reports it (`checksummed` False) and the store trusts it once,
then writes it again, checksummed, at its next write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import faiss
import numpy as np

from ..features.base import FeatureSpec

log = logging.getLogger(__name__)

BINARY_FACTORY = "BFlat"
# Cells visited per query by an approximate index (at most all of them). Recall of the
# float index is then restored by exact re-ranking; hashes compare exactly within cells.
SEARCH_CELLS = 32
# Candidates the HNSW graph over the cell centres keeps while it looks for a query's
# nearest cells (never fewer than the cells asked for); 64 finds the same cells as
# comparing with every centre for 99.9% of them at a million images.
CENTRE_SEARCH_BREADTH = 64
# Cells visited when only close neighbours matter (a copy lies in or next to its
# original's cell): the duplicate scan over a whole collection. A float index scans
# cell by cell instead (`close_pairs`): each cell against itself and its nearest cells.
SCAN_CELLS = 3
SCAN_NEIGHBOUR_CELLS = 2
# Searches with at most this many query vectors run on one thread (see `_threads_for`).
FEW_QUERIES = 64
# An approximate index is retrained once its size calls for this many times more (or
# fewer) cells than it has: about 16x more (or fewer) vectors than it was built for.
RETRAIN_FACTOR = 4
# Vectors per cell to learn the cells from (FAISS's floor for good cells is 39), capped.
TRAINING_PER_CELL = 40
MAX_TRAINING_SAMPLE = 160_000


def choose_factory(spec: FeatureSpec, count: int, max_exact: int) -> str:
    """The factory string for `count` vectors of `spec`."""
    if count <= max_exact:
        return BINARY_FACTORY if spec.kind == "binary" else "Flat"
    lists = _cells(count)
    return f"BIVF{lists}" if spec.kind == "binary" else f"IVF{lists}_HNSW32,SQ8"


def is_approximate(factory: str) -> bool:
    return "IVF" in factory


def _cells(count: int) -> int:
    """About 4 sqrt(n) cells, a power of two, never more than there are vectors."""
    lists = 2 ** round(math.log2(4 * math.sqrt(max(count, 1))))
    return max(1, min(lists, 2 ** int(math.log2(max(count, 1)))))


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

    @property
    def approximate(self) -> bool:
        return is_approximate(self.factory)

    def train(self, sample: np.ndarray) -> None:
        self.index.train(np.ascontiguousarray(sample))
        _set_cells(self.index, SEARCH_CELLS)

    def needs_rebuild(self, count: int, max_exact: int) -> bool:
        """Whether `count` vectors call for another kind of index (exact <-> approximate)
        or for cells learned again (RETRAIN_FACTOR times more or fewer cells wanted)."""
        wanted = choose_factory(self.spec, count, max_exact)
        if is_approximate(wanted) != self.approximate:
            return True
        if not self.approximate:
            return False
        ratio = _cell_count(wanted) / _cell_count(self.factory)
        return ratio >= RETRAIN_FACTOR or ratio <= 1 / RETRAIN_FACTOR

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    # --- querying ---------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int, cells: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids), each (n_queries, k'), best first; k' <= k, no padding
        (an approximate index may still return -1 ids with similarity 0 at the end of a
        row that found fewer than k'). `cells` overrides how many cells are visited."""
        k = min(k, len(self))
        if k == 0:
            return np.empty((len(queries), 0)), np.empty((len(queries), 0), dtype=np.int64)
        queries = np.ascontiguousarray(queries)
        with _threads_for(len(queries)):
            if cells is not None and self.approximate:
                distances, ids = self.index.search(queries, k, params=_cell_params(cells))
            else:
                distances, ids = self.index.search(queries, k)
        return self._to_similarity(distances, ids), ids

    def close_pairs(
        self, min_similarity: float, k: int, neighbour_cells: int = SCAN_NEIGHBOUR_CELLS
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """An approximate float index scanned cell by cell, for the duplicate scan: each
        stored vector's k nearest among the vectors of its own cell and of the
        `neighbour_cells` cells whose centroids lie nearest to its cell's, compared on the
        decoded 8-bit codes, kept at `min_similarity` and above. Yields (ids, neighbour
        ids, similarities) chunks. No coarse search per vector and no catalog reads: a
        copy lies in or next to its original's cell."""
        ivf = faiss.extract_index_ivf(self.index)
        near = _nearest_cells(ivf.quantizer.reconstruct_n(0, ivf.nlist), neighbour_cells + 1)
        chunk: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        with _threads_for(1):  # many small products: threads would only wait on each other
            for cell in range(ivf.nlist):
                ids, vectors = _decoded_cell(ivf, cell)
                if not len(ids):
                    continue
                cells = [(ids, vectors)] + [_decoded_cell(ivf, int(other)) for other in near[cell] if other != cell]
                other_ids = np.concatenate([c[0] for c in cells])
                top = min(k + 1, len(other_ids))
                sims, rows = faiss.knn(vectors, np.concatenate([c[1] for c in cells]), top, metric=faiss.METRIC_INNER_PRODUCT)
                found = other_ids[np.maximum(rows, 0)]
                keep = (rows >= 0) & (found != ids[:, None]) & (sims >= min_similarity)
                chunk.append((np.broadcast_to(ids[:, None], rows.shape)[keep], found[keep], sims[keep].astype(np.float64)))
                if sum(len(c[0]) for c in chunk) >= 200_000:
                    yield _join(chunk)
                    chunk = []
        if chunk:
            yield _join(chunk)

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
        return lims, self._to_similarity(distances, ids), ids

    def _to_similarity(self, distances: np.ndarray, ids: np.ndarray) -> np.ndarray:
        if self.spec.kind == "binary":
            similarity = 1.0 - distances.astype(np.float64) / self.spec.dim
        else:
            similarity = np.clip(distances.astype(np.float64), 0.0, 1.0)
        return np.where(ids >= 0, similarity, 0.0)

    # --- persistence ------------------------------------------------------------------------

    def save(self, path: Path, generation: int, journal: int) -> None:
        """Write atomically: index file, then the sidecar that vouches for it (the catalog
        generation, the journal entry it reflects and the file's SHA-256). A crash between
        the two leaves a file its sidecar does not vouch for: rebuilt on the next open."""
        tmp = path.with_suffix(".faiss.tmp")
        if self.spec.kind == "binary":
            faiss.write_index_binary(self.index, str(tmp))
        else:
            faiss.write_index(self.index, str(tmp))
        checksum = _sha256(tmp)  # read back from the page cache just written
        os.replace(tmp, path)
        _write_json(_sidecar(path), {**self.describe(generation, journal), "sha256": checksum})

    def describe(self, generation: int, journal: int) -> dict[str, object]:
        return {
            "feature": self.spec.name,
            "version": self.spec.version,
            "factory": self.factory,
            "count": len(self),
            "generation": generation,
            "journal": journal,
        }

    @classmethod
    def load(cls, spec: FeatureSpec, path: Path) -> "tuple[VectorIndex, dict[str, Any]] | None":
        """The saved index and its sidecar (which catalog state it reflects: the caller
        decides whether it can catch up; `checksummed`: whether the file's bytes were
        verified), or None when it is missing, damaged (logged as a warning naming the
        file) or of another feature version."""
        if not (path.exists() and _sidecar(path).exists()):
            return None  # never saved here (or only the file of a first save)
        try:
            meta = json.loads(_sidecar(path).read_text())
            if meta["version"] != spec.version:
                return None
            expected = meta.get("sha256")
            if expected is not None and _sha256(path) != expected:
                log.warning("%s: damaged (its bytes no longer match the checksum saved with it); "
                            "rebuilding it from the catalog", path)
                return None
            if spec.kind == "binary":
                index = faiss.read_index_binary(str(path))
            else:
                index = faiss.read_index(str(path))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            log.warning("%s: unreadable (%s); rebuilding it from the catalog", path, exc)
            return None
        loaded = cls.__new__(cls)
        loaded.spec, loaded.factory, loaded.index = spec, meta["factory"], index
        if len(loaded) != meta["count"]:
            log.warning("%s: holds %d vectors, its sidecar says %d; rebuilding it from the catalog",
                        path, len(loaded), meta["count"])
            return None
        meta["checksummed"] = expected is not None
        if loaded.approximate:
            _set_cells(index, SEARCH_CELLS)
        return loaded, meta


def _new_index(spec: FeatureSpec, factory: str) -> faiss.Index:
    if spec.kind == "binary":
        if factory == BINARY_FACTORY:
            return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(spec.dim))
        return faiss.index_binary_factory(spec.dim, factory)
    if factory == "Flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(spec.dim))
    index = faiss.index_factory(spec.dim, factory, faiss.METRIC_INNER_PRODUCT)
    _set_cells(index, SEARCH_CELLS)
    return index


def training_size(factory: str) -> int:
    """How many vectors to learn an approximate index's cells from."""
    return min(MAX_TRAINING_SAMPLE, TRAINING_PER_CELL * _cell_count(factory))


def _cell_count(factory: str) -> int:
    cells = re.search(r"IVF(\d+)", factory)
    return int(cells.group(1)) if cells else 1


def _set_cells(index: faiss.Index, cells: int) -> None:
    ivf = faiss.extract_index_ivf(index) if isinstance(index, faiss.Index) else index
    ivf.nprobe = max(1, min(ivf.nlist, cells))
    centres = faiss.downcast_index(ivf.quantizer) if isinstance(ivf, faiss.IndexIVF) else None
    if isinstance(centres, faiss.IndexHNSW):
        centres.hnsw.efSearch = max(CENTRE_SEARCH_BREADTH, 2 * cells)


def _cell_params(cells: int) -> faiss.SearchParametersIVF:
    return faiss.SearchParametersIVF(nprobe=max(1, cells))


def _nearest_cells(centroids: np.ndarray, count: int) -> np.ndarray:
    """For each cell, the `count` cells (itself first) whose centroids have the largest
    inner product with its own, as the index assigns vectors to cells."""
    count = min(count, len(centroids))
    near = np.empty((len(centroids), count), dtype=np.int64)
    for start in range(0, len(centroids), 1024):
        scores = centroids[start : start + 1024] @ centroids.T
        rows = np.arange(scores.shape[0])
        scores[rows, start + rows] = np.inf  # a cell is its own nearest
        best = np.argpartition(-scores, count - 1, axis=1)[:, :count]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1)
        near[start : start + 1024] = np.take_along_axis(best, order, axis=1)
    return near


def _decoded_cell(ivf: faiss.IndexIVF, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, decoded vectors) of one inverted list."""
    invlists = ivf.invlists
    size = invlists.list_size(cell)
    if size == 0:
        return np.empty(0, dtype=np.int64), np.empty((0, ivf.d), dtype=np.float32)
    ids = faiss.rev_swig_ptr(invlists.get_ids(cell), size).copy()
    codes = faiss.rev_swig_ptr(invlists.get_codes(cell), size * ivf.code_size).copy().reshape(size, ivf.code_size)
    width = ivf.coarse_code_size()
    prefix = np.array([(cell >> (8 * i)) & 255 for i in range(width)], dtype=np.uint8)
    return ids, ivf.sa_decode(np.hstack([np.broadcast_to(prefix, (size, width)), codes]))


def _join(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))  # type: ignore[return-value]


@contextmanager
def _threads_for(queries: int) -> Iterator[None]:
    """One thread for a handful of queries (a search): OpenMP's start-up and spinning cost
    more than they save there, and fight the ONNX runtime's threads for the cores."""
    if queries > FEW_QUERIES:
        yield
        return
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)

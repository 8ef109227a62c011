"""Every method the quality benchmarks measure, behind one small interface (`Method`).

A method indexes a gallery (a list of files) and answers each query file with a ranking:
(gallery position, score) pairs, best first. Scores are similarities, higher = more alike:
1 - Hamming distance / bits for hashes, the cosine for embeddings, lookalike's fused score.
`threshold` is the score at and above which the method itself calls two images copies,
where it ships one.

- lookalike (default features), lookalike with its keypoint re-ranking stage, and lookalike
  with its hashes only: the public API (`Collection.add`, `Collection.search`) on a real
  SQLite store in a scratch folder;
- ImageHash pHash, dHash, aHash, wHash, colorhash and imagededup's PHash, DHash, AHash,
  WHash: the library's hash of each file, the gallery ranked by Hamming distance;
- the seed recipes: the EfficientNet-Lite0 embedding with plain cosine over every vector
  (exact search in numpy, also the reference for approximate-index recall) and a fixed
  0.9 threshold; the same embedding in an Annoy angular index with 10 trees, as the
  MobileNet + Annoy tutorial builds it.

The peers share their decoding: `Encodings` decodes each file once for all nine hashes (in
worker processes) and once for the CNN (in batches in this process, at the same time), and
keeps the vectors for every method that uses them.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Callable, Iterable, Literal, Sequence

import numpy as np
from PIL import Image

from lookalike import Collection, Settings

from .imagededup_hashing import without_torch as imagededup_without_torch

Ranking = list[tuple[int, float]]

CNN_FEATURE = "effnet_lite0"
LOOKALIKE_HASHES = ("ahash", "dhash", "phash", "whash")
SEED_CNN_THRESHOLD = 0.9
ANNOY_TREES = 10
ANNOY_SEED = 42
IMAGEDEDUP_MAX_DISTANCE = 10  # imagededup's default max_distance_threshold in find_duplicates


# --- the interface -----------------------------------------------------------------------------


class Method(ABC):
    name: str
    description: str
    threshold: float | None = None

    @abstractmethod
    def index(self, gallery: Sequence[Path]) -> None:
        """Make the gallery searchable (replacing any previous one)."""

    @abstractmethod
    def search(self, queries: Sequence[Path], k: int) -> list[Ranking]:
        """The k best gallery positions and scores for each query, best first."""

    def close(self) -> None:
        """Release what `index` built."""


# --- lookalike ---------------------------------------------------------------------------------


class LookalikeMethod(Method):
    """lookalike through its public API, on a SQLite store in `workdir`.

    The store is named after the features and the gallery, so methods that differ only in
    their re-ranking stages (`rerank`) share it: the second one's `index` is lookalike's own
    incremental re-index, which finds every file unchanged."""

    def __init__(self, name: str, description: str, workdir: Path, features: tuple[str, ...] | None = None,
                 rerank: tuple[str, ...] = ()):
        self.name, self.description, self.workdir = name, description, workdir
        self.settings = Settings(features=features) if features else Settings()
        self.rerank = rerank
        self.threshold = self.settings.min_near_duplicate_score
        self._collection: Collection | None = None
        self._positions: dict[str, int] = {}

    def index(self, gallery: Sequence[Path]) -> None:
        self.close()
        features = "-".join(self.settings.features)
        digest = hashlib.sha1("\n".join(str(path) for path in gallery).encode()).hexdigest()[:12]
        self._collection = Collection(self.workdir / f"{features}-{digest}.db", self.settings)
        report = self._collection.add(list(gallery))
        if report.skipped:
            raise RuntimeError(f"{self.name} skipped gallery files: {report.skipped[:3]}")
        self._positions = {str(Path(path).resolve()): i for i, path in enumerate(gallery)}

    def search(self, queries: Sequence[Path], k: int) -> list[Ranking]:
        assert self._collection is not None, "index() first"
        return [self._ranking(self._collection.search(query, k=k, rerank=self.rerank)) for query in queries]

    def _ranking(self, matches: list) -> Ranking:
        """Identical files are one stored image with several paths: each path is a result."""
        return [
            (self._positions[path], match.score)
            for match in matches
            for path in match.image.paths
            if path in self._positions
        ]

    def close(self) -> None:
        if self._collection is not None:
            self._collection.close()
            self._collection = None


# --- peer encoders: image -> vector ------------------------------------------------------------


@dataclass(frozen=True)
class Encoder:
    """A peer's image -> vector step. Bits compare by Hamming distance, unit vectors by cosine.
    `encode` must pickle (a module-level function or a partial of one) when `in_workers`."""

    name: str
    kind: Literal["bits", "unit"]
    encode: Callable[[list[Image.Image]], np.ndarray]
    in_workers: bool


def imagehash_bits(function: str, images: list[Image.Image]) -> np.ndarray:
    import imagehash

    hash_of = getattr(imagehash, function)
    return np.stack([hash_of(image).hash.ravel() for image in images]).astype(np.uint8)


def imagededup_bits(method: str, images: list[Image.Image]) -> np.ndarray:
    hasher = getattr(imagededup_without_torch(), method)(verbose=False)
    hexes = [hasher.encode_image(image_array=np.asarray(image)) for image in images]
    return np.stack([np.unpackbits(np.frombuffer(bytes.fromhex(h), dtype=np.uint8)) for h in hexes])


def cnn_embedding(images: list[Image.Image]) -> np.ndarray:
    from lookalike.features.registry import get_extractor

    return get_extractor(CNN_FEATURE).extract_batch(images)


IMAGEHASH_FUNCTIONS = {"pHash": "phash", "dHash": "dhash", "aHash": "average_hash", "wHash": "whash",
                       "colorhash": "colorhash"}
IMAGEDEDUP_METHODS = ("PHash", "DHash", "AHash", "WHash")


def peer_encoders() -> list[Encoder]:
    encoders = [
        Encoder(f"imagehash-{name}", "bits", partial(imagehash_bits, function), in_workers=True)
        for name, function in IMAGEHASH_FUNCTIONS.items()
    ]
    encoders += [
        Encoder(f"imagededup-{method}", "bits", partial(imagededup_bits, method), in_workers=True)
        for method in IMAGEDEDUP_METHODS
    ]
    return encoders + [Encoder("cnn", "unit", cnn_embedding, in_workers=False)]


def decode(path: Path) -> Image.Image:
    """What a peer's user writes: Image.open, as RGB (our benchmark files have no alpha)."""
    with Image.open(path) as image:
        return image.convert("RGB")


def encode_files(encoders: Sequence[Encoder], paths: Sequence[Path]) -> dict[str, np.ndarray]:
    images = [decode(path) for path in paths]
    return {encoder.name: encoder.encode(images) for encoder in encoders}


class Encodings:
    """Every encoder's vector for each file, computed with one decode per file (per side:
    worker processes for the hashes, this process for the CNN) and kept."""

    CHUNK = 32
    MIN_FILES_FOR_WORKERS = 200  # below this, starting worker processes costs more than it saves

    def __init__(self, encoders: Sequence[Encoder], workers: int = 2) -> None:
        self.encoders = {encoder.name: encoder for encoder in encoders}
        self.workers = workers
        self._vectors: dict[str, dict[Path, np.ndarray]] = {name: {} for name in self.encoders}
        self._done: set[Path] = set()

    def compute(self, paths: Sequence[Path]) -> None:
        todo = [path for path in dict.fromkeys(paths) if path not in self._done]
        chunks = [todo[i : i + self.CHUNK] for i in range(0, len(todo), self.CHUNK)]
        in_workers = [e for e in self.encoders.values() if e.in_workers]
        here = [e for e in self.encoders.values() if not e.in_workers]
        if self.workers > 1 and len(todo) >= self.MIN_FILES_FOR_WORKERS:
            with multiprocessing.get_context("spawn").Pool(self.workers) as pool:
                pending = pool.imap(partial(encode_files, in_workers), chunks)  # runs while the CNN does
                self._keep_all(chunks, (encode_files(here, chunk) for chunk in chunks))
                self._keep_all(chunks, pending)
        else:
            self._keep_all(chunks, (encode_files(in_workers + here, chunk) for chunk in chunks))

    def _keep_all(self, chunks: list[list[Path]], results: Iterable[dict[str, np.ndarray]]) -> None:
        for chunk, vectors in zip(chunks, results):
            for name, rows in vectors.items():
                self._vectors[name].update(zip(chunk, rows))
            self._done.update(chunk)

    def matrix(self, encoder: str, paths: Sequence[Path]) -> np.ndarray:
        self.compute(paths)
        return np.stack([self._vectors[encoder][path] for path in paths])


# --- peer methods: rank the gallery by an encoder's vectors ------------------------------------


class VectorMethod(Method):
    def __init__(self, name: str, description: str, encodings: Encodings, encoder: str,
                 threshold: float | None = None) -> None:
        self.name, self.description, self.threshold = name, description, threshold
        self.encodings, self.encoder = encodings, encodings.encoders[encoder]

    def index(self, gallery: Sequence[Path]) -> None:
        self._build(self.encodings.matrix(self.encoder.name, gallery))

    def search(self, queries: Sequence[Path], k: int) -> list[Ranking]:
        return self._rank(self.encodings.matrix(self.encoder.name, queries), k)

    @abstractmethod
    def _build(self, vectors: np.ndarray) -> None: ...

    @abstractmethod
    def _rank(self, queries: np.ndarray, k: int) -> list[Ranking]: ...


class ExhaustiveMethod(VectorMethod):
    """Compares each query with every gallery vector: Hamming for bits, cosine for unit vectors.
    Ties keep gallery order (the benchmarks shuffle their galleries once, with a fixed seed)."""

    def _build(self, vectors: np.ndarray) -> None:
        self._gallery = vectors.astype(np.float32)

    def _rank(self, queries: np.ndarray, k: int) -> list[Ranking]:
        scores = self._similarities(queries.astype(np.float32))
        rankings = []
        for row in scores:
            best = np.argsort(-row, kind="stable")[:k]
            rankings.append([(int(i), float(row[i])) for i in best])
        return rankings

    def _similarities(self, queries: np.ndarray) -> np.ndarray:
        if self.encoder.kind == "unit":
            return queries @ self._gallery.T
        gallery = self._gallery
        differing = queries @ (1 - gallery).T + (1 - queries) @ gallery.T
        return 1.0 - differing / gallery.shape[1]


class AnnoyMethod(VectorMethod):
    """Annoy's angular index; its distance d = sqrt(2 - 2 cos) is reported as the cosine."""

    def _build(self, vectors: np.ndarray) -> None:
        from annoy import AnnoyIndex

        self._index = AnnoyIndex(vectors.shape[1], "angular")
        self._index.set_seed(ANNOY_SEED)
        for i, vector in enumerate(vectors):
            self._index.add_item(i, vector)
        self._index.build(ANNOY_TREES, n_jobs=1)

    def _rank(self, queries: np.ndarray, k: int) -> list[Ranking]:
        rankings = []
        for vector in queries:
            ids, distances = self._index.get_nns_by_vector(vector, k, include_distances=True)
            rankings.append([(int(i), 1.0 - d * d / 2.0) for i, d in zip(ids, distances)])
        return rankings


# --- the line-up -------------------------------------------------------------------------------


def all_methods(workdir: Path, encodings: Encodings) -> list[Method]:
    """Every method, lookalike first; `encodings` should come from `peer_encoders()`."""
    lookalike_version = version("lookalike")
    imagehash_version, imagededup_version = version("ImageHash"), version("imagededup")
    methods: list[Method] = [
        LookalikeMethod(
            "lookalike", f"lookalike {lookalike_version}, default features (aHash, dHash, pHash, wHash, colour, "
            "LBP, EfficientNet-Lite0), public API on a SQLite store; threshold = its near-duplicate tier", workdir),
        LookalikeMethod(
            "lookalike-keypoints", "lookalike, default features, with its keypoint re-ranking stage "
            "(`--rerank keypoints`: SIFT + RANSAC verification of the first stage's best candidates)",
            workdir, rerank=("keypoints",)),
        LookalikeMethod(
            "lookalike-hashes", "lookalike with only its four 64-bit hashes (no CNN, colour or texture)",
            workdir, LOOKALIKE_HASHES),
    ]
    methods += [
        ExhaustiveMethod(f"IH-{name}", f"ImageHash {imagehash_version} `{function}`"
                         + (" (binbits=3, 42 bits)" if name == "colorhash" else " (64 bits)")
                         + ", gallery ranked by Hamming distance; no shipped threshold",
                         encodings, f"imagehash-{name}")
        for name, function in IMAGEHASH_FUNCTIONS.items()
    ]
    methods += [
        ExhaustiveMethod(f"idd-{method}", f"imagededup {imagededup_version} `{method}` (64 bits), Hamming ranking; "
                         f"threshold = its default max_distance_threshold ({IMAGEDEDUP_MAX_DISTANCE} bits)",
                         encodings, f"imagededup-{method}", threshold=1.0 - IMAGEDEDUP_MAX_DISTANCE / 64)
        for method in IMAGEDEDUP_METHODS
    ]
    methods += [
        ExhaustiveMethod("CNN-exact", "seed recipe: EfficientNet-Lite0 embedding (lookalike's extractor), cosine "
                         "against every vector in numpy (exact search); fixed threshold 0.9",
                         encodings, "cnn", threshold=SEED_CNN_THRESHOLD),
        AnnoyMethod("CNN-Annoy", f"seed recipe: the same embedding in Annoy {version('annoy')} (angular, "
                    f"{ANNOY_TREES} trees, default search_k), as in the MobileNet + Annoy tutorial; no threshold",
                    encodings, "cnn"),
    ]
    return methods

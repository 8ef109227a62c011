"""Synthetic vectors for the speed and scale benchmarks' stores: real embeddings -> cluster
centres -> up to a million items with every feature, planted edited copies among them
(`bench.timing.stores` writes them into real stores); and how close their hashes lie
next to real photos' (`hash_realism`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .images import photo_sources
from .plan import EMBEDDING, HASH_FEATURES

COPY_FRACTION = 0.05  # share of synthetic items that are edited copies of another item
# The features synthetic items are made with: lookalike's defaults before its copy
# descriptor (no synthetic copy descriptor vectors yet), so the synthetic stores use these.
SYNTHETIC_FEATURES = ("ahash", "dhash", "phash", "whash", "color", "lbp", "effnet_lite0")


@dataclass
class RealVectors:
    """Every feature's vectors of really indexed images, plus their paths."""

    vectors: dict[str, np.ndarray]
    paths: list[str]
    sha256: list[str]

    @classmethod
    def load(cls, db: Path) -> "RealVectors":
        from lookalike.catalog import Catalog
        from lookalike.features.registry import get_spec

        catalog = Catalog(db)
        try:
            ids = catalog.image_ids()
            records = catalog.images(ids)
            names = [str(f["name"]) for f in catalog.stored_features()]
            vectors = {name: catalog.get_vectors(get_spec(name), ids) for name in names}
        finally:
            catalog.close()
        return cls(vectors, [records[i].paths[0] for i in ids], [records[i].sha256 for i in ids])

    @classmethod
    def join(cls, parts: list["RealVectors"]) -> "RealVectors":
        names = parts[0].vectors
        return cls(
            {name: np.concatenate([p.vectors[name] for p in parts]) for name in names},
            [path for p in parts for path in p.paths],
            [sha for p in parts for sha in p.sha256],
        )

    def __len__(self) -> int:
        return len(self.paths)


class HashCopula:
    """Random 64-bit hashes whose distances spread like those of real photos.

    Independent fair bits would put two unrelated pictures 32 +- 4 bits apart; real
    photos share layout and brightness (sky above, ground below), so their aHash and wHash
    often sit much closer, and the four hashes of one picture agree. A Gaussian copula
    keeps both: the bits of the four hashes are thresholds of one correlated normal
    vector whose bit frequencies and bit-to-bit correlations are those of the real hashes.
    """

    def __init__(self, real: RealVectors, shrink: float = 0.1) -> None:
        from scipy.stats import norm

        bits = np.concatenate([np.unpackbits(real.vectors[n], axis=1) for n in HASH_FEATURES], axis=1)
        frequency = np.clip(bits.mean(axis=0), 0.02, 0.98)
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = np.nan_to_num(np.corrcoef(bits.T.astype(np.float64)))
        np.fill_diagonal(correlation, 1.0)
        # Bit correlation -> correlation of the underlying normals (the arcsine law), shrunk
        # towards independence and made positive definite, since a few hundred photos
        # estimate a 256 x 256 matrix roughly.
        latent = (1 - shrink) * np.sin(np.pi / 2 * correlation) + shrink * np.eye(len(correlation))
        values, vectors = np.linalg.eigh(latent)
        factor = vectors * np.sqrt(np.clip(values, 1e-4, None))
        self.factor = (factor / np.linalg.norm(factor, axis=1, keepdims=True)).astype(np.float32)
        self.thresholds = norm.ppf(1 - frequency).astype(np.float32)

    def sample(self, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        latent = rng.standard_normal((count, len(self.thresholds)), dtype=np.float32) @ self.factor.T
        packed = np.packbits(latent > self.thresholds, axis=1)
        return {name: np.ascontiguousarray(packed[:, 8 * i : 8 * i + 8]) for i, name in enumerate(HASH_FEATURES)}


class SyntheticVectors:
    """Vectors for synthetic images, in deterministic chunks.

    Embeddings: a few thousand cluster centres, each a blend of two real embeddings;
    an item is its centre plus noise, clipped at zero and L2-normalised like a real one,
    the noise set so that an item keeps cosine ITEM_TO_CENTRE with its centre (two items
    of one cluster then sit near 0.6, unrelated items near 0.2, as real photos do).
    Colour and texture come from the centre's first real image, perturbed. Hashes come
    from `HashCopula`. COPY_FRACTION of the items are edited copies of an earlier item of
    their chunk (a few hash bits flipped, the float vectors barely moved): planted
    duplicates.
    """

    ITEM_TO_CENTRE = 0.78

    def __init__(self, real: RealVectors, centres: int, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        embeddings = real.vectors[EMBEDDING]
        first = rng.integers(0, len(real), centres)
        second = rng.integers(0, len(real), centres)
        # Even blends: a centre stays well away from either real photo, so that the real
        # photos planted in the store are not near-duplicates of whole synthetic clusters.
        weight = rng.uniform(0.35, 0.65, (centres, 1)).astype(np.float32)
        self.centres = _normalise(weight * embeddings[first] + (1 - weight) * embeddings[second])
        self.source = first
        self.real = real
        self.seed = seed
        self.embedding_noise = _noise_for_cosine(self.centres, self.ITEM_TO_CENTRE)
        self.hashes = HashCopula(real)

    def chunk(self, start: int, count: int) -> tuple[dict[str, np.ndarray], int]:
        """(vectors of items start..start+count, how many of them are planted copies)."""
        rng = np.random.default_rng([self.seed, start])
        cluster = rng.integers(0, len(self.centres), count)
        vectors = {
            EMBEDDING: _jitter(self.centres[cluster], self.embedding_noise, rng),
            **self._looks(cluster, rng, 0.05),
            **self.hashes.sample(count, rng),
        }
        copies = rng.choice(np.arange(1, count), size=int(COPY_FRACTION * count), replace=False)
        originals = (rng.random(len(copies)) * copies).astype(np.int64)  # an earlier item
        self._plant_copies(vectors, copies, originals, rng)
        return vectors, len(copies)

    def _looks(self, cluster: np.ndarray, rng: np.random.Generator, noise: float) -> dict[str, np.ndarray]:
        looks = {}
        for name in ("color", "lbp"):
            base = self.real.vectors[name][self.source[cluster]]
            looks[name] = _normalise(np.abs(base + rng.normal(0, noise, base.shape).astype(np.float32)))
        return looks

    def _plant_copies(
        self, vectors: dict[str, np.ndarray], copies: np.ndarray, originals: np.ndarray, rng: np.random.Generator
    ) -> None:
        for name, values in vectors.items():
            source = values[originals]
            if name in HASH_FEATURES:
                values[copies] = source ^ _random_bits(source.shape, rng.uniform(0, 0.06), rng)
            else:
                moved = source + rng.normal(0, 0.15 / math.sqrt(source.shape[1]), source.shape).astype(np.float32)
                values[copies] = _normalise(np.maximum(moved, 0.0))


def _normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _jitter(centres: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = centres + rng.normal(0, sigma, centres.shape).astype(np.float32)
    return _normalise(np.maximum(noisy, 0.0))


def _noise_for_cosine(centres: np.ndarray, cosine: float) -> float:
    """The noise level at which an item keeps `cosine` with its centre (on average)."""
    rng = np.random.default_rng(0)
    sample = centres[:64]
    low, high = 0.0, 1.0
    for _ in range(20):
        sigma = (low + high) / 2
        similarity = np.mean(np.sum(_jitter(sample, sigma, rng) * sample, axis=1))
        low, high = (sigma, high) if similarity > cosine else (low, sigma)
    return (low + high) / 2


def _random_bits(shape: tuple[int, ...], probability: float, rng: np.random.Generator) -> np.ndarray:
    """Packed bytes whose bits are each set with `probability` (XOR them in to flip bits)."""
    bits = rng.random((*shape[:-1], shape[-1] * 8)) < probability
    return np.packbits(bits, axis=-1)


def hash_realism(real_dbs: list[Path], centres: int, sample: int = 1200) -> dict[str, Any]:
    """Share of pairs of distinct pictures whose hashes lie within d bits, for the real
    photos and for the synthetic hashes: how fair the synthetic `duplicates` load is."""
    real = RealVectors.join([RealVectors.load(db) for db in real_dbs])
    synthetic, _ = SyntheticVectors(real, centres).chunk(0, sample)
    sources = len(photo_sources())
    pictures = np.array([_picture_of(path, sources) for path in real.paths])
    shares = {}
    for name in HASH_FEATURES:
        shares[name] = {
            "real": _shares_within(real.vectors[name], pictures),
            "synthetic": _shares_within(synthetic[name]),
        }
    return {"distances": list(HASH_DISTANCES), "shares": shares, "real_photos": len(real)}


def _picture_of(path: str, sources: int) -> int:
    """Which source photo a test image was made from (large-NNN and small-NNN files cycle
    through the sources), so that pairs of crops of one photo are left out."""
    number = int(Path(path).stem.split("-")[1])
    return number % sources


HASH_DISTANCES = (10, 14, 20)


def _shares_within(hashes: np.ndarray, pictures: np.ndarray | None = None) -> list[float]:
    """Share of pairs within each of HASH_DISTANCES bits, over pairs of different pictures."""
    bits = np.unpackbits(hashes, axis=1).astype(np.float32)
    distances = bits @ (1 - bits).T + (1 - bits) @ bits.T  # Hamming, all pairs
    left, right = np.triu_indices(len(hashes), k=1)
    if pictures is not None:
        different = pictures[left] != pictures[right]
        left, right = left[different], right[different]
    pairs = distances[left, right]
    return [round(float(np.mean(pairs <= d)), 5) for d in HASH_DISTANCES]

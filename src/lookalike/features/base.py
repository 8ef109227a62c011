"""The one interface every feature kind goes through: images in, one vector per image out.

Two vector kinds cover every feature:
- "binary": packed bits (uint8, dim/8 bytes), compared by Hamming distance;
- "float": L2-normalised float32, compared by inner product (cosine) clipped to [0, 1]: a
  negative cosine counts as unrelated (the copy descriptor's vectors are signed).
Either way `similarity()` is in [0, 1], 1 meaning identical, so the index, search,
dedup and scoring code never branches on which feature it handles.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, Literal, Sequence

import numpy as np
from PIL import Image

VectorKind = Literal["binary", "float"]


@dataclass(frozen=True)
class FeatureSpec:
    """What a feature is, declared in one place and stored with the vectors it made.

    `near` is the similarity at which two images are typically copies of one another and
    `far` the typical similarity of two unrelated images; `lookalike.scoring` maps each
    feature onto a common scale with them.
    """

    name: str
    version: str
    kind: VectorKind
    dim: int  # bits for binary, floats for float
    input_side: int  # the short side the feature needs; decoding may draft down to it
    near: float
    far: float
    family: Literal["hash", "colour", "texture", "embedding", "copy", "region"]
    description: str
    # Which turns of the image leave the vector (nearly) unchanged, so a query needs fewer
    # oriented copies: "dihedral" (every rotation by 90 degrees and mirroring), "mirror"
    # (mirrorings only), or "none".
    invariance: Literal["none", "mirror", "dihedral"] = "none"
    # For features loaded from a model file (see features/learned.py): that file's path.
    source: str | None = None
    # Search this feature's index with the query's vector of another feature instead of
    # its own (regional embeddings: a stored window against the whole query; features/regions.py).
    query_with: str | None = None
    # The pixels the extractor reads: "L" features work on grey levels, so a caller may
    # hand them a grey image converted once for all of them (the query's eight orientations
    # feed four hashes: 32 conversions of the full image otherwise); RGB works too.
    input_mode: Literal["RGB", "L"] = "RGB"

    @property
    def code_size(self) -> int:
        """Bytes per stored vector."""
        return self.dim // 8 if self.kind == "binary" else self.dim * 4

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.kind == "binary" else np.dtype(np.float32)

    @property
    def width(self) -> int:
        """Array columns per vector: bytes for binary, floats for float."""
        return self.dim // 8 if self.kind == "binary" else self.dim


class Extractor(ABC):
    """Subclasses declare `spec` and write `_extract`; the base checks shapes and types."""

    spec: ClassVar[FeatureSpec]

    def extract_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        """RGB images (or images in the spec's `input_mode`) -> (n, width) array of the spec's dtype."""
        if not images:
            return np.empty((0, self.spec.width), dtype=self.spec.dtype)
        return self._checked(self._extract(list(images)), len(images))

    def extract_turned(self, image: Image.Image, transforms: Sequence[Image.Transpose | None]) -> np.ndarray:
        """One row per transform of `image` (None: as it is), as `extract_batch` of the
        turned images. Extractors that start by shrinking the image to a small grid override
        it to shrink once and turn the grid (a query is searched in eight orientations)."""
        return self.extract_batch([image if transform is None else image.transpose(transform) for transform in transforms])

    def _checked(self, vectors: np.ndarray, count: int) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=self.spec.dtype)
        expected = (count, self.spec.width)
        if vectors.shape != expected:
            raise AssertionError(f"{self.spec.name}: got shape {vectors.shape}, expected {expected}")
        return vectors

    @abstractmethod
    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        """Return one row per image."""

    def attach(self, extractor_of: Callable[[str], "Extractor"]) -> None:
        """Called once by the owner (a collection's runtime, or `create_extractor` for a
        stand-alone one) with the way to reach the other extractors it owns: a regional
        embedding reuses the whole-image CNN instead of loading its own."""

    def close(self) -> None:
        """Free what the extractor holds (threads, sessions); called when its owner closes."""

    def probability(self, similarity: np.ndarray) -> np.ndarray | None:
        """P(same picture) for similarities of this feature, if it is calibrated for that
        (a learned model's probability head); None otherwise."""
        return None


T = Image.Transpose
# The transforms after which width and height trade places.
SIDE_SWAPPING = frozenset({T.ROTATE_90, T.ROTATE_270, T.TRANSPOSE, T.TRANSVERSE})
_ARRAY_TURNS = {
    None: lambda a: a,
    T.ROTATE_90: lambda a: np.rot90(a, 1),
    T.ROTATE_180: lambda a: np.rot90(a, 2),
    T.ROTATE_270: lambda a: np.rot90(a, 3),
    T.FLIP_LEFT_RIGHT: lambda a: a[:, ::-1],
    T.FLIP_TOP_BOTTOM: lambda a: a[::-1],
    T.TRANSPOSE: lambda a: a.T,
    T.TRANSVERSE: lambda a: np.rot90(a, 2).T,
}


def turn_array(pixels: np.ndarray, transform: Image.Transpose | None) -> np.ndarray:
    """`pixels` (rows are y) turned as `Image.transpose(transform)` turns an image."""
    return _ARRAY_TURNS[transform](pixels)


_POPCOUNT = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.uint8)


def similarity_matrix(spec: FeatureSpec, queries: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """Similarities in [0, 1], shape (len(queries), len(stored))."""
    queries, stored = np.atleast_2d(queries), np.atleast_2d(stored)
    if spec.kind == "binary":
        differing = _POPCOUNT[np.bitwise_xor(queries[:, None, :], stored[None, :, :])]
        return 1.0 - differing.sum(axis=2, dtype=np.int32) / float(spec.dim)
    return np.clip(queries.astype(np.float64) @ stored.T.astype(np.float64), 0.0, 1.0)


def pair_similarity(spec: FeatureSpec, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Similarity of row i of `left` to row i of `right`, shape (n,)."""
    if spec.kind == "binary":
        differing = _POPCOUNT[np.bitwise_xor(left, right)]
        return 1.0 - differing.sum(axis=1, dtype=np.int32) / float(spec.dim)
    products = np.einsum("ij,ij->i", left.astype(np.float64), right.astype(np.float64))
    return np.clip(products, 0.0, 1.0)


def in_input_mode(spec: FeatureSpec, image: Image.Image, grey: dict[int, Image.Image]) -> Image.Image:
    """`image` as `spec` reads it: for a grey feature its grey version, converted once per
    image through `grey` (keyed by the image object's id, so it must live no longer than
    the images it was filled from)."""
    if spec.input_mode != "L" or image.mode == "L":
        return image
    if id(image) not in grey:
        grey[id(image)] = image.convert("L")
    return grey[id(image)]


def needed_side(specs: Sequence[FeatureSpec]) -> int:
    """The short side decoding must keep so that every feature in `specs` has enough pixels."""
    return max(spec.input_side for spec in specs)


def l2_normalise(rows: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (zero rows stay zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)

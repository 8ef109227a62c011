"""Perceptual hashes, 64 bits each, stored packed (8 bytes).

All four start from a grey version of the image shrunk to a tiny grid, so they survive
recompression, rescaling, grey conversion and mild colour edits, and collapse under
rotation, mirroring and crops (search compensates for the first two by querying the
eight orientations).
"""

from __future__ import annotations

from typing import Callable, ClassVar, Sequence

import numpy as np
from PIL import Image

from .base import SIDE_SWAPPING, Extractor, FeatureSpec, turn_array

_HASH_BITS = 64
_SIDE = 8


def grey_grid(image: Image.Image, width: int, height: int) -> np.ndarray:
    """Grey levels of `image` resampled to width x height, as float32."""
    grey = (image if image.mode == "L" else image.convert("L")).resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(grey, dtype=np.float32)


def pack(bits: np.ndarray) -> np.ndarray:
    """64 booleans (any shape) -> 8 bytes."""
    return np.packbits(bits.reshape(-1).astype(bool))


def average_hash_bits(grid: np.ndarray) -> np.ndarray:
    return grid > grid.mean()


def difference_hash_bits(grid: np.ndarray) -> np.ndarray:
    return grid[:, 1:] > grid[:, :-1]


def dct_rows(size: int, count: int) -> np.ndarray:
    """The first `count` rows of the orthonormal DCT-II matrix of order `size`."""
    frequency, position = np.arange(count)[:, None], np.arange(size)[None, :]
    rows = np.sqrt(2.0 / size) * np.cos(np.pi * (2 * position + 1) * frequency / (2 * size))
    rows[0] /= np.sqrt(2.0)
    return rows


# The 8 lowest frequencies of a 32-point DCT: two small matrix products give the 8x8 corner of
# the 2-D transform without importing scipy.fft (~0.25-1 s, most of a cold search's start-up).
# Checked against scipy.fft.dctn on 292 real pictures, upright and turned: the same 64 bits.
_PHASH_GRID = 32
_DCT_ROWS = dct_rows(_PHASH_GRID, _SIDE)


def low_frequencies(grid: np.ndarray) -> np.ndarray:
    """The 8x8 lowest frequencies of the grid's (32x32) orthonormal 2-D DCT (type II)."""
    rows = _DCT_ROWS if grid.shape == (_PHASH_GRID, _PHASH_GRID) else dct_rows(grid.shape[0], _SIDE)
    columns = rows if grid.shape[0] == grid.shape[1] else dct_rows(grid.shape[1], _SIDE)
    return rows @ grid.astype(np.float64) @ columns.T


def perceptual_hash_bits(grid: np.ndarray) -> np.ndarray:
    """Low-frequency 8x8 block of the 32x32 DCT, thresholded at its median."""
    low = low_frequencies(grid)
    return low > np.median(low)


def wavelet_hash_bits(grid: np.ndarray) -> np.ndarray:
    """Haar approximation band at 8x8 of a 64x64 image, thresholded at its median.

    The Haar LL band at level k is the 2^k x 2^k block mean (up to a constant factor),
    so it is computed as a block mean; dropping the coarsest LL coefficient, as
    imagehash does, does not change a median threshold.
    """
    low = grid.reshape(_SIDE, 8, _SIDE, 8).mean(axis=(1, 3))
    return low > np.median(low)


def hash_detail(image: Image.Image) -> float:
    """How much the hashes can say about this image: the median distance of pHash's 63 low
    DCT coefficients (32x32 grey grid, grey levels in 0..1, orthonormal DCT, DC left out)
    from their median, the margin by which a typical bit clears its threshold.

    A flat or smoothly graded picture (a plain backdrop, a gradient wallpaper, a star field
    at this scale) has almost every coefficient at zero: its bits, in all four hashes, fall
    on whichever side rounding puts them, or are all alike, so two such pictures agree
    by chance. Measured: the smooth Ubuntu and Plasma wallpapers 0.00-0.06, photographs
    and detailed wallpapers 0.1-0.5. `lookalike.scoring.hash_weight` turns it into the
    weight the hashes get."""
    low = low_frequencies(grey_grid(image, 4 * _SIDE, 4 * _SIDE) / 255.0).ravel()[1:]
    return float(np.median(np.abs(low - np.median(low))))


class _HashExtractor(Extractor):
    """Subclasses set `grid_size` (width, height of the grey grid) and `bits_of`: grid ->
    64 booleans."""

    grid_size: ClassVar[tuple[int, int]]
    bits_of: ClassVar[Callable[[np.ndarray], np.ndarray]]

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        return np.stack([pack(self.bits_of(grey_grid(image, *self.grid_size))) for image in images])

    def extract_turned(self, image: Image.Image, transforms: Sequence[Image.Transpose | None]) -> np.ndarray:
        """Shrinks the image once (twice if a transform swaps the sides of a non-square grid)
        and turns the grid: the upright row is exactly `extract_batch`'s, a turned row can
        differ from hashing the turned image by a bit or two of resampling rounding (0.03-0.45
        bits on average over 100 photos), for 1/8 of the work."""
        width, height = self.grid_size
        grids: dict[bool, np.ndarray] = {}
        rows = []
        for transform in transforms:
            swapped = transform in SIDE_SWAPPING and width != height
            if swapped not in grids:
                grids[swapped] = grey_grid(image, *((height, width) if swapped else (width, height)))
            rows.append(pack(self.bits_of(turn_array(grids[swapped], transform))))
        return self._checked(np.stack(rows), len(transforms))


def _hash_spec(name: str, description: str, near_bits: int) -> FeatureSpec:
    return FeatureSpec(
        name=name,
        version="1",
        kind="binary",
        dim=_HASH_BITS,
        input_side=64,
        near=1.0 - near_bits / _HASH_BITS,
        far=0.5,
        family="hash",
        description=description,
        input_mode="L",
    )


class AverageHash(_HashExtractor):
    spec = _hash_spec("ahash", "aHash: 8x8 grey grid above its mean", near_bits=8)
    grid_size = (_SIDE, _SIDE)
    bits_of = staticmethod(average_hash_bits)


class DifferenceHash(_HashExtractor):
    spec = _hash_spec("dhash", "dHash: horizontal gradient signs on a 9x8 grey grid", near_bits=10)
    grid_size = (_SIDE + 1, _SIDE)
    bits_of = staticmethod(difference_hash_bits)


class PerceptualHash(_HashExtractor):
    spec = _hash_spec("phash", "pHash: low 8x8 DCT coefficients of a 32x32 grey grid", near_bits=10)
    grid_size = (4 * _SIDE, 4 * _SIDE)
    bits_of = staticmethod(perceptual_hash_bits)


class WaveletHash(_HashExtractor):
    spec = _hash_spec("whash", "wHash: Haar 8x8 approximation band of a 64x64 grey grid", near_bits=8)
    grid_size = (8 * _SIDE, 8 * _SIDE)
    bits_of = staticmethod(wavelet_hash_bits)

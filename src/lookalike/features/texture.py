"""Texture: rotation-invariant uniform Local Binary Pattern histograms at three radii.

(P, R) = (8, 1), (16, 2), (24, 3) give P + 2 bins each (54 floats), computed on a grey
version with its short side at 256 px, Hellinger-normalised like the colour histogram.
Good at telling apart piles of look-alike material (tea, fabric, stone) that a global
embedding confuses.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from .base import Extractor, FeatureSpec, l2_normalise

_RADII = ((8, 1), (16, 2), (24, 3))
_SIDE = 256
# At most this many grey pixels per image (16 x 256^2, ~1 MP): a photo up to 16:1 keeps
# its short side at 256 px, a longer strip is shrunk to fit, so the float64 work buffers
# (~8 x 8 bytes a pixel) stay near 70 MB whatever shape the image has.
_MAX_PIXELS = 16 * _SIDE * _SIDE


def grey_short_side(image: Image.Image, side: int, max_pixels: int = _MAX_PIXELS) -> np.ndarray:
    """Grey levels with the short side scaled to `side`, unless that would make more than
    `max_pixels`: then scaled to `max_pixels` (a 1 x 5,000 strip would otherwise become
    256 x 1,280,000)."""
    scale = min(side / min(image.size), (max_pixels / (image.width * image.height)) ** 0.5)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    grey = image if image.mode == "L" else image.convert("L")
    return np.asarray(grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def lbp_histograms(images: list[Image.Image], pool: ThreadPoolExecutor) -> list[np.ndarray]:
    """One histogram vector per image. The (image, radius) jobs run on `pool`, largest first
    (numpy releases the GIL for whole-image array arithmetic)."""
    greys = [grey_short_side(image, _SIDE) for image in images]
    jobs = sorted(((i, radius) for i in range(len(greys)) for radius in range(len(_RADII))),
                  key=lambda job: -_RADII[job[1]][0])
    counts = dict(zip(jobs, pool.map(lambda job: uniform_lbp_counts(greys[job[0]], *_RADII[job[1]]), jobs)))
    return [np.concatenate([np.sqrt(counts[i, r] / max(counts[i, r].sum(), 1)) for r in range(len(_RADII))])
            .astype(np.float32) for i in range(len(greys))]


def uniform_lbp_counts(grey: np.ndarray, points: int, radius: int) -> np.ndarray:
    """Histogram (points + 2 bins) of the rotation-invariant uniform LBP codes of `grey`.

    The same numbers as skimage's `local_binary_pattern(grey, points, radius, "uniform")`
    (bit for bit: same float64 arithmetic in the same order, zeros outside the image, the
    same count of 0/1 changes that does not wrap around), computed one circle point at a
    time over the whole image instead of one pixel at a time: three times faster, and the
    histograms of stored collections stay valid.
    """
    image = np.asarray(grey, dtype=np.float64)
    rows, cols = image.shape
    pad = radius + 1
    padded = np.zeros((rows + 2 * pad, cols + 2 * pad))
    padded[pad:pad + rows, pad:pad + cols] = image
    angles = 2 * np.pi * np.arange(points, dtype=np.float64) / points
    row_offsets = np.round(-radius * np.sin(angles), 5)
    col_offsets = np.round(radius * np.cos(angles), 5)
    # Buffers reused for every point: fresh arrays of this size come from mmap, and their
    # page faults made the whole histogram ~1.5x slower inside a busy process.
    work = _Buffers(rows, cols)
    ones = np.zeros((rows, cols), dtype=np.int8)
    changes = np.zeros((rows, cols), dtype=np.int8)
    bit, previous, changed = (np.empty((rows, cols), dtype=bool) for _ in range(3))
    for point, (row_offset, col_offset) in enumerate(zip(row_offsets, col_offsets)):
        neighbour = _circle_point(padded, pad, row_offset, col_offset, work)
        np.greater_equal(neighbour, image, out=bit)
        ones += bit
        if point:
            np.not_equal(bit, previous, out=changed)
            changes += changed
        bit, previous = previous, bit
    codes = np.where(changes <= 2, ones, points + 1)
    return np.bincount(codes.ravel(), minlength=points + 2)


class _Buffers:
    def __init__(self, rows: int, cols: int) -> None:
        self.top, self.bottom, self.product = (np.empty((rows, cols)) for _ in range(3))


def _circle_point(padded: np.ndarray, pad: int, row_offset: float, col_offset: float, work: _Buffers) -> np.ndarray:
    """Every pixel's neighbour at (row_offset, col_offset), bilinearly interpolated as
    skimage does it: fractions taken from each pixel's own coordinate (r + offset) - floor,
    then top = (1 - dc) tl + dc tr, bottom likewise, (1 - dr) top + dr bottom."""
    rows, cols = work.top.shape
    row_coords = np.arange(rows, dtype=np.float64) + row_offset
    col_coords = np.arange(cols, dtype=np.float64) + col_offset
    first_row, first_col = np.floor(row_coords), np.floor(col_coords)
    dr = (row_coords - first_row)[:, None]
    dc = (col_coords - first_col)[None, :]
    top_row, left_col = pad + int(first_row[0]), pad + int(first_col[0])

    def corner(down: int, right: int) -> np.ndarray:
        return padded[top_row + down:top_row + down + rows, left_col + right:left_col + right + cols]

    top, bottom, product = work.top, work.bottom, work.product
    if dc.any():
        np.multiply(1 - dc, corner(0, 0), out=top)
        top += np.multiply(dc, corner(0, 1), out=product)
        np.multiply(1 - dc, corner(1, 0), out=bottom)
        bottom += np.multiply(dc, corner(1, 1), out=product)
    else:  # (1 - 0) x + 0 y == x exactly
        top[...] = corner(0, 0)
        bottom[...] = corner(1, 0)
    if dr.any():
        top *= 1 - dr
        top += np.multiply(dr, bottom, out=product)
    return top


_WORKERS = 2


class LocalBinaryPatterns(Extractor):
    spec = FeatureSpec(
        name="lbp",
        version="1",
        kind="float",
        dim=sum(points + 2 for points, _ in _RADII),
        input_side=_SIDE,
        near=0.985,
        far=0.9,
        family="texture",
        description="uniform rotation-invariant LBP histograms, radii 1, 2, 3",
        invariance="dihedral",
        input_mode="L",
    )

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="lookalike-lbp")
        return l2_normalise(np.stack(lbp_histograms(images, self._pool)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

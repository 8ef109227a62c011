"""Texture: rotation-invariant uniform Local Binary Pattern histograms at three radii.

(P, R) = (8, 1), (16, 2), (24, 3) give P + 2 bins each (54 floats), computed on a grey
version with its short side at 256 px, Hellinger-normalised like the colour histogram.
Good at telling apart piles of look-alike material (tea, fabric, stone) that a global
embedding confuses.
"""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image
from skimage.feature import local_binary_pattern

from .base import Extractor, FeatureSpec, l2_normalise
from .registry import register_extractor

_RADII = ((8, 1), (16, 2), (24, 3))
_SIDE = 256


def grey_short_side(image: Image.Image, side: int) -> np.ndarray:
    scale = side / min(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    grey = image if image.mode == "L" else image.convert("L")
    return np.asarray(grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def lbp_histograms(images: list[Image.Image]) -> list[np.ndarray]:
    """One histogram vector per image. The (image, radius) jobs run on `_WORKERS` threads,
    largest first: skimage's LBP releases the GIL, and texture is the costliest feature
    after the CNN (a 640x480 photo: ~40 ms on one core), so a single query gains too."""
    greys = [grey_short_side(image, _SIDE) for image in images]
    jobs = sorted(((i, radius) for i in range(len(greys)) for radius in range(len(_RADII))),
                  key=lambda job: -_RADII[job[1]][0])
    counts = dict(zip(jobs, _pool().map(lambda job: _uniform_lbp_counts(greys[job[0]], *_RADII[job[1]]), jobs)))
    return [np.concatenate([np.sqrt(counts[i, r] / max(counts[i, r].sum(), 1)) for r in range(len(_RADII))])
            .astype(np.float32) for i in range(len(greys))]


def _uniform_lbp_counts(grey: np.ndarray, points: int, radius: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about integer input; it is intended
        codes = local_binary_pattern(grey, points, radius, method="uniform")
    return np.bincount(codes.astype(np.int64).ravel(), minlength=points + 2)


_WORKERS = 2
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="lookalike-lbp")
        return _POOL


@register_extractor
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

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        return l2_normalise(np.stack(lbp_histograms(images)))

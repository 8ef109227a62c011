"""Colour: a compact HSV histogram (8 hue x 3 saturation x 3 value bins = 72 floats).

Stored as the square root of the normalised histogram, L2-normalised, so the inner
product of two vectors is their Bhattacharyya coefficient (1 = same colour mix).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import Extractor, FeatureSpec, l2_normalise

_BINS = (8, 3, 3)
_SIDE = 128


def colour_histogram(image: Image.Image) -> np.ndarray:
    small = image.resize((_SIDE, _SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    hsv = np.asarray(small.convert("HSV"), dtype=np.uint16).reshape(-1, 3)
    index = np.zeros(len(hsv), dtype=np.int64)
    for channel, bins in enumerate(_BINS):
        index = index * bins + (hsv[:, channel] * bins) // 256
    counts = np.bincount(index, minlength=int(np.prod(_BINS))).astype(np.float32)
    return np.sqrt(counts / counts.sum())


class ColourHistogram(Extractor):
    spec = FeatureSpec(
        name="color",
        version="1",
        kind="float",
        dim=int(np.prod(_BINS)),
        input_side=_SIDE,
        near=0.95,
        far=0.55,
        family="colour",
        description="HSV colour histogram, 8x3x3 bins (Hellinger-normalised)",
        invariance="dihedral",
    )

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        return l2_normalise(np.stack([colour_histogram(image) for image in images]))

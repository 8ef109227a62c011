"""Pixel agreement of a verified pair: the candidate warped onto the query by the
homography the keypoints found, compared block by block.

Keypoints say that one map carries the query onto a candidate; they cannot say whether the
candidate shows the same *content* there. The next frame of a fixed camera, the next shot
of a burst or a photo retaken from the same spot verify as copies (the background fits one
map to sub-pixel noise) yet differ where something moved. Aligned, an edited copy
reproduces nearly every textured block of the query (recompression, rescaling, colour and
grey changes keep each block's pattern: a normalised correlation ignores brightness and
contrast), while the other frame fails where the people walked. `search` uses the share of
agreeing blocks to settle contests between several verified copies of one query
(`scoring.AGREEMENT_MARGIN`); the thresholds are `lookalike.scoring`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from ...scoring import AGREEMENT_BLOCK, AGREEMENT_MIN_CORRELATION, AGREEMENT_MIN_TEXTURE, AGREEMENT_SIDE


@dataclass(frozen=True)
class Agreement:
    share: float  # of the query's textured blocks inside the candidate, those the candidate reproduces
    blocks: int  # textured blocks compared


def pixel_agreement(query: Image.Image, candidate: Image.Image, homography: Sequence[Sequence[float]],
                    candidate_size: tuple[int, int]) -> Agreement | None:
    """How much of `query` the aligned `candidate` reproduces. `homography` maps `query`'s
    pixels onto the candidate's original pixels (`candidate_size`: its original width and
    height; `candidate` may be a smaller decoding of it). None when no textured block of
    the query falls inside the candidate."""
    import cv2

    query_grey, query_scale = _grey(query, AGREEMENT_SIDE)
    candidate_grey, candidate_scale = _grey(candidate, AGREEMENT_SIDE * 2)
    candidate_scale *= candidate.width / max(1, candidate_size[0])
    # small query pixel -> query pixel -> candidate original pixel -> small candidate pixel
    to_query = np.diag([1.0 / query_scale, 1.0 / query_scale, 1.0])
    to_small = np.diag([candidate_scale, candidate_scale, 1.0])
    mapping = to_small @ np.asarray(homography, dtype=np.float64) @ to_query
    height, width = query_grey.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(candidate_grey, mapping, (width, height), flags=flags)
    inside = cv2.warpPerspective(np.ones_like(candidate_grey), mapping, (width, height),
                                 flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    return _block_agreement(query_grey, warped, inside)


def _grey(image: Image.Image, side: int) -> tuple[np.ndarray, float]:
    """The image in grey, shrunk to at most `side` on its long side, and the scale used."""
    scale = min(1.0, side / max(image.size))
    grey = image.convert("L")
    if scale < 1.0:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                           Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32), scale


def _block_agreement(query: np.ndarray, warped: np.ndarray, inside: np.ndarray) -> Agreement | None:
    block = AGREEMENT_BLOCK
    rows, cols = query.shape[0] // block, query.shape[1] // block
    if not rows or not cols:
        return None

    def blocks(pixels: np.ndarray) -> np.ndarray:
        return pixels[:rows * block, :cols * block].reshape(rows, block, cols, block).swapaxes(1, 2).reshape(
            rows * cols, block * block)

    a, b, valid = blocks(query), blocks(warped), blocks(inside).min(axis=1) > 0
    a, b = a[valid], b[valid]
    a_std, b_std = a.std(axis=1), b.std(axis=1)
    textured = np.maximum(a_std, b_std) >= AGREEMENT_MIN_TEXTURE
    if not textured.any():
        return None
    a, b, a_std, b_std = a[textured], b[textured], a_std[textured], b_std[textured]
    covariance = ((a - a.mean(axis=1, keepdims=True)) * (b - b.mean(axis=1, keepdims=True))).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = np.where((a_std > 0) & (b_std > 0), covariance / (a_std * b_std), 0.0)
    return Agreement(float((correlation >= AGREEMENT_MIN_CORRELATION).mean()), int(textured.sum()))

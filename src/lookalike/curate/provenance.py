"""Which copies in a group are edited versions of another: captioned, framed, cropped,
turned onto a background, or turned grey. The keeper rule "original" prefers the others.

Two copies of one picture are aligned by the keypoint stage's homography
(`rerank.keypoints.verify_images`); then the evidence is what one holds that the other lacks:

- *extra area*: one copy shows content around the other's whole frame. When that margin is
  synthetic (mostly one flat colour: a border, letterbox bars, a screenshot's desktop, the
  white corners of a turned copy), the larger copy is the edited one (framed); when it is a
  picture (varied colours), the smaller copy is a crop of it.
- *overlay*: both frames cover the same content, but blocks of one differ from the other
  where it is mostly one flat colour: a caption band or a sticker pasted over the picture.
- *grey*: one copy has no colour where the other has.

Each check compares two copies of the same picture, so what makes a copy "edited" is
always relative to another member of the group, never a property of one file alone (a
photo of a white wall is not framed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from ..rerank.keypoints import extract_features, verify
from ..scoring import (
    COLOUR_SPREAD, FIT_SHARE, FLAT_TOLERANCE, GREY_SPREAD, MAX_OTHER_EXTRA, MIN_EXTRA, MIN_FLAT_SHARE, OVERLAY_BLOCK,
    OVERLAY_FLATTER_BY, OVERLAY_MIN_DIFFERENCE, OVERLAY_SHARES,
)

# Pixel analysis runs on copies shrunk to this long side.
ANALYSIS_SIDE = 256
OVERLAID = "captioned copy (a flat band or patch written over the picture)"
# Groups with more distinct pictures than this are not compared pair by pair (n^2 alignments).
MAX_COMPARED = 12


@dataclass(frozen=True)
class Picture:
    """One member of a group: a key (its content hash), a name for reasons, the decoded
    image (possibly reduced) and its original size."""

    key: str
    name: str
    image: Image.Image
    size: tuple[int, int]


def edited_copies(pictures: Sequence[Picture]) -> dict[str, list[str]]:
    """For each picture found to be an edited copy of another member: why, in words."""
    found: dict[str, list[str]] = {}
    if not 1 < len(pictures) <= MAX_COMPARED:
        return found
    described = [extract_features(p.image, size=p.size) for p in pictures]
    for i, first in enumerate(pictures):
        for j in range(i + 1, len(pictures)):
            second = pictures[j]
            verdict = compare_pair(first, second, described[i], described[j])
            if verdict is not None:
                edited, why = verdict
                original = second if edited is first else first
                found.setdefault(edited.key, []).append(f"{why} of {original.name}")
    return found


def compare_pair(first: Picture, second: Picture, first_points: object = None,
                 second_points: object = None) -> tuple[Picture, str] | None:
    """(the edited copy, what was done to it) for two copies of a picture, or None when
    neither shows an edit the other lacks."""
    grey = _grey_edit(first, second)
    if grey is not None:
        return grey
    first_points = first_points or extract_features(first.image, size=first.size)
    second_points = second_points or extract_features(second.image, size=second.size)
    evidence = verify(first_points, second_points)
    if evidence.homography is None or evidence.kind != "near-duplicate":
        return None
    a, scale_a = _small(first.image, first.size)
    b, scale_b = _small(second.image, second.size)
    # small a pixel -> a original -> b original -> small b pixel
    mapping = np.diag([scale_b, scale_b, 1.0]) @ np.asarray(evidence.homography) @ np.diag([1 / scale_a, 1 / scale_a, 1.0])
    b_in_a = _footprint(mapping, b.shape, a.shape)
    a_in_b = _footprint(np.linalg.inv(mapping), a.shape, b.shape)
    extra_a, extra_b = 1.0 - b_in_a.mean(), 1.0 - a_in_b.mean()
    if extra_a >= MIN_EXTRA and extra_b <= MAX_OTHER_EXTRA:
        return _larger_or_crop(first, second, a, b_in_a)
    if extra_b >= MIN_EXTRA and extra_a <= MAX_OTHER_EXTRA:
        return _larger_or_crop(second, first, b, a_in_b)
    if extra_a <= MAX_OTHER_EXTRA and extra_b <= MAX_OTHER_EXTRA:
        return _overlay(first, second, a, _warp(b, mapping, a.shape))
    return None


def _larger_or_crop(larger: Picture, smaller: Picture, pixels: np.ndarray, inside: np.ndarray) -> tuple[Picture, str]:
    """`larger` shows content around all of `smaller`: a synthetic margin makes it the
    framed copy, a picture makes `smaller` a crop of it."""
    margin = pixels[_eroded(~inside)]
    if len(margin) and flat_share(margin) >= MIN_FLAT_SHARE:
        return larger, "framed copy (a flat border or background around the picture)"
    return smaller, "cropped copy"


def _overlay(first: Picture, second: Picture, a: np.ndarray, b: np.ndarray) -> tuple[Picture, str] | None:
    """Blocks where the aligned copies differ; the copy that is flat there was written over."""
    difference = _unexplained(a.mean(axis=2), b.mean(axis=2))
    rows, cols = a.shape[0] // OVERLAY_BLOCK, a.shape[1] // OVERLAY_BLOCK
    if not rows or not cols:
        return None
    blocks = difference[: rows * OVERLAY_BLOCK, : cols * OVERLAY_BLOCK].reshape(rows, OVERLAY_BLOCK, cols, OVERLAY_BLOCK)
    differing = blocks.mean(axis=(1, 3)) >= OVERLAY_MIN_DIFFERENCE
    if not OVERLAY_SHARES[0] <= differing.mean() <= OVERLAY_SHARES[1]:
        return None
    where = np.kron(differing, np.ones((OVERLAY_BLOCK, OVERLAY_BLOCK), dtype=bool))
    where = np.pad(where, ((0, a.shape[0] - where.shape[0]), (0, a.shape[1] - where.shape[1])))
    flat_a, flat_b = flat_share(a[where]), flat_share(b[where])
    if flat_a >= MIN_FLAT_SHARE and flat_a - flat_b >= OVERLAY_FLATTER_BY:
        return first, OVERLAID
    if flat_b >= MIN_FLAT_SHARE and flat_b - flat_a >= OVERLAY_FLATTER_BY:
        return second, OVERLAID
    return None


def _unexplained(grey_a: np.ndarray, grey_b: np.ndarray) -> np.ndarray:
    """|a - (gain x b + offset)| per pixel, the gain and offset fitted on the pixels that
    fit best (an overlay must not bend the fit that is to expose it)."""
    x, y = grey_b.ravel(), grey_a.ravel()
    gain, offset = np.polyfit(x, y, 1)
    for _ in range(2):
        residual = np.abs(y - (gain * x + offset))
        inliers = residual <= np.percentile(residual, FIT_SHARE * 100)
        gain, offset = np.polyfit(x[inliers], y[inliers], 1)
    return np.abs(grey_a - (gain * grey_b + offset))


def _grey_edit(first: Picture, second: Picture) -> tuple[Picture, str] | None:
    spread_a, spread_b = _colour_spread(first.image), _colour_spread(second.image)
    if spread_a[0] <= GREY_SPREAD and spread_b[1] >= COLOUR_SPREAD:
        return first, "grey copy"
    if spread_b[0] <= GREY_SPREAD and spread_a[1] >= COLOUR_SPREAD:
        return second, "grey copy"
    return None


def _colour_spread(image: Image.Image) -> tuple[float, float]:
    """(largest, mean) difference between a pixel's channels, on a small copy."""
    pixels, _ = _small(image, image.size)
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    return float(np.percentile(spread, 99.5)), float(spread.mean())


def flat_share(pixels: np.ndarray) -> float:
    """The share of (n, 3) pixels within FLAT_TOLERANCE of their most common colour."""
    if not len(pixels):
        return 0.0
    coarse = (pixels // (2 * FLAT_TOLERANCE)).astype(np.int64)
    codes = coarse[:, 0] * 10_000 + coarse[:, 1] * 100 + coarse[:, 2]
    values, counts = np.unique(codes, return_counts=True)
    mode = pixels[codes == values[np.argmax(counts)]].mean(axis=0)
    return float((np.abs(pixels - mode) <= FLAT_TOLERANCE).all(axis=1).mean())


def _small(image: Image.Image, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The image at most ANALYSIS_SIDE long as float RGB, and small pixels per original pixel."""
    factor = min(1.0, ANALYSIS_SIDE / max(image.size))
    small = image.convert("RGB")
    if factor < 1.0:
        small = small.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                             Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32), small.width / size[0]


def _footprint(mapping: np.ndarray, source: tuple[int, ...], target: tuple[int, ...]) -> np.ndarray:
    """Which pixels of the target frame the source frame covers, `mapping` target -> source."""
    import cv2

    ones = np.ones(source[:2], dtype=np.uint8)
    flags = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    return cv2.warpPerspective(ones, mapping, (target[1], target[0]), flags=flags).astype(bool)


def _warp(pixels: np.ndarray, mapping: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`pixels` (the second copy) drawn in the first copy's frame; `mapping` first -> second."""
    import cv2

    return cv2.warpPerspective(pixels, mapping, (shape[1], shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def _eroded(mask: np.ndarray, steps: int = 2) -> np.ndarray:
    """`mask` shrunk by a few pixels: the margin without its blurred edge."""
    out = mask.copy()
    for _ in range(steps):
        out[1:, :] &= out[:-1, :].copy()
        out[:-1, :] &= out[1:, :].copy()
        out[:, 1:] &= out[:, :-1].copy()
        out[:, :-1] &= out[:, 1:].copy()
    return out

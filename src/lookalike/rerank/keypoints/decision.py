"""What a keypoint match means: near-duplicate (the same picture: copy, crop, paste),
same-object (another photograph of the same thing) or nothing, with its strength and its
reason in plain words, from the evidence `geometry.verify` measured (`Verification`).

`kind`: a near-duplicate when many inliers sit on one affine map to within sub-pixel noise
(digital copies: crops, rescaling, rotation, pasting keep every point exactly where the
map puts it); same-object when enough inliers agree under one homography but not under an
affine map (a real second photograph: perspective and parallax move points by pixels);
otherwise nothing.

The thresholds, and how they were tuned on real photographs and checked on unrelated ones,
live in `lookalike.scoring` with every other tier boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from ...scoring import (
    MAX_AREA_CHANGE,
    MIN_COVERAGE,
    NEAR_DUPLICATE_MAX_DISPLACEMENT,
    NEAR_DUPLICATE_MIN_INLIERS,
    SAME_OBJECT_MIN_INLIER_RATIO,
    SAME_OBJECT_MIN_INLIERS,
    keypoint_strength,
)

Kind = Literal["near-duplicate", "same-object"]


@dataclass(frozen=True)
class Verification:
    """What keypoint matching found between a query and a candidate.

    Coordinates are original pixels of each image; regions are (left, top, right, bottom)
    bounding boxes of the inliers; `pairs` are up to MAX_PAIRS inlier point pairs
    ((query x, query y), (candidate x, candidate y)), strongest first, for drawing lines.
    `residual` is the median distance (working pixels, scale-normalised) of the inliers from
    the best affine map through them; `displacement` the same after local smoothing (noise
    averaged away): a fraction of a pixel for digital copies, more for real second views.
    `perspective` is how far (candidate working pixels) the homography departs from that
    affine map over the query's inlier region.
    """

    method: str
    query_keypoints: int
    candidate_keypoints: int
    matches: int
    inliers: int
    inlier_ratio: float
    residual: float
    displacement: float
    perspective: float
    scale: float  # linear scale, candidate original pixels per query original pixel
    rotation: float  # degrees the query is turned counter-clockwise relative to the candidate
    mirrored: bool  # the query is a mirror image of the candidate
    work_area_change: float  # |det| of the affine map between the working copies
    anisotropy: float  # its larger over its smaller singular value: 1 for a similarity map
    query_coverage: float
    candidate_coverage: float
    query_region: tuple[float, float, float, float] | None
    candidate_region: tuple[float, float, float, float] | None
    query_size: tuple[int, int]  # (width, height) of the original images: the coordinates' frame
    candidate_size: tuple[int, int]
    homography: tuple[tuple[float, float, float], ...] | None  # query -> candidate, original pixels
    pairs: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = field(repr=False, default=())

    @property
    def kind(self) -> Kind | None:
        return kind(self)

    @property
    def strength(self) -> float:
        return strength(self)

    @property
    def reason(self) -> str:
        return reason(self)

    def to_dict(self, max_pairs: int | None = None) -> dict[str, Any]:
        pairs = self.pairs if max_pairs is None else self.pairs[:max_pairs]
        return {
            "kind": self.kind,
            "reason": self.reason,
            "method": self.method,
            "keypoints": {"query": self.query_keypoints, "candidate": self.candidate_keypoints},
            "matches": self.matches,
            "inliers": self.inliers,
            "inlier_ratio": round(self.inlier_ratio, 4),
            "residual": round(self.residual, 4),
            "displacement": round(self.displacement, 4),
            "perspective": round(self.perspective, 4),
            "scale": round(self.scale, 4),
            "anisotropy": round(self.anisotropy, 4),
            "rotation": round(self.rotation, 2),
            "mirrored": self.mirrored,
            "coverage": {"query": round(self.query_coverage, 4), "candidate": round(self.candidate_coverage, 4)},
            "size": {"query": list(self.query_size), "candidate": list(self.candidate_size)},
            "region": {"query": _rounded(self.query_region), "candidate": _rounded(self.candidate_region)},
            "homography": None if self.homography is None else [[round(v, 8) for v in row] for row in self.homography],
            "pairs": [[[round(c, 1) for c in q], [round(c, 1) for c in t]] for q, t in pairs],
        }


def _rounded(box: tuple[float, ...] | None) -> list[float] | None:
    return None if box is None else [round(v, 1) for v in box]


def _sane(v: Verification) -> bool:
    """The inliers span some area in both images and the map neither collapses nor blows it up."""
    if v.query_coverage < MIN_COVERAGE or v.candidate_coverage < MIN_COVERAGE:
        return False
    if not (math.isfinite(v.perspective) and math.isfinite(v.displacement)):
        return False
    return 1.0 / MAX_AREA_CHANGE <= v.work_area_change <= MAX_AREA_CHANGE


def kind(v: Verification) -> Kind | None:
    """near-duplicate (the same picture: copy, crop, paste), same-object (another photograph
    of the same thing) or None (not verified)."""
    if v.inliers < NEAR_DUPLICATE_MIN_INLIERS or not _sane(v):
        return None
    if v.displacement <= NEAR_DUPLICATE_MAX_DISPLACEMENT.get(v.method, NEAR_DUPLICATE_MAX_DISPLACEMENT["sift"]):
        return "near-duplicate"
    if v.inliers >= SAME_OBJECT_MIN_INLIERS and v.inlier_ratio >= SAME_OBJECT_MIN_INLIER_RATIO:
        return "same-object"
    return None


def strength(v: Verification) -> float:
    """0..1: how strong the evidence is (`scoring.keypoint_strength`)."""
    return keypoint_strength(v.inliers, v.query_coverage, v.candidate_coverage)


def _transform_words(v: Verification) -> str:
    if v.kind == "near-duplicate":
        words = "one similarity map" if v.anisotropy < 1.05 else "one affine map"
        return words + (" (mirrored)" if v.mirrored else "")
    return "one homography"


def reason(v: Verification) -> str:
    """The evidence in plain words."""
    found = kind(v)
    if found is None:
        if v.matches == 0:
            return "no keypoints match"
        if v.inliers < NEAR_DUPLICATE_MIN_INLIERS:
            return f"only {v.inliers} of {v.matches} matched keypoints agree on one geometry: not verified"
        return (f"{v.inliers} of {v.matches} matched keypoints agree on one geometry but too loosely "
                "for the same picture or the same object: not verified")
    text = (f"{v.inliers} keypoints agree under {_transform_words(v)} covering "
            f"{v.candidate_coverage:.0%} of the stored image and {v.query_coverage:.0%} of the query")
    if found == "near-duplicate":
        detail = []
        if v.candidate_coverage < 0.7 and v.query_coverage >= 0.5:
            detail.append("the query is a crop of the stored image")
        elif v.query_coverage < 0.5 and v.candidate_coverage >= 0.5:
            detail.append("the stored image appears inside the query")
        elif v.query_coverage < 0.5 and v.candidate_coverage < 0.5:
            detail.append("a part of the stored image appears in the query")
        return text + (f": {detail[0]}" if detail else ": the same picture")
    return text + (f": the same object from another viewpoint (the points sit {v.displacement:.1f} px off "
                   "where any flat copy would put them)")

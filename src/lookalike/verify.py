"""Keypoint verification: is the candidate the same picture (cropped, scaled, turned, pasted
into another) or the same thing photographed again from another angle?

A global embedding or hash sees the whole picture, so it misses heavy crops, a poster cut
out of a larger photo and the same object from another viewpoint. Local features do not:

1. `extract_features`: SIFT (ORB as the fast fallback) on a grey copy whose long side is at
   most `WORK_SIDE` pixels, the strongest `MAX_KEYPOINTS` kept, positions given in the
   ORIGINAL image's pixels.
2. `verify`: putative matches from Lowe's ratio test (0.75) that are also mutual nearest
   neighbours, then one RANSAC homography (5 px at the working scale). The inliers, the
   share of each image their convex hull covers and how far the inliers stray from the
   best affine map through them are the evidence.
3. `kind`: a near-duplicate when many inliers sit on one affine map to within sub-pixel
   noise (digital copies: crops, rescaling, rotation, pasting keep every point exactly
   where the map puts it); same-object when enough inliers agree under one homography but
   not under an affine map (a real second photograph: perspective and parallax move
   points by pixels); otherwise nothing.

The thresholds below were tuned on real photographs and checked on unrelated ones (SIFT,
480-pixel working copies): 4,005 pairs of unrelated photos (scikit-image samples,
opencv-doc photos, KDE wallpapers) gave 0 verified, at most 7 inliers; 42 of 46 directions
of real second views (opencv-doc graf, box, aloe, leuven, books, video frames, 13 stereo
chessboard pairs, scikit-image's stereo motorcycle) were same-object, with at least 35
inliers (the 4 others: aero1/aero3 barely overlap, text_defocus/text_motion are blurred
past any keypoint), none near-duplicate; all 60 named edits (`lookalike.edits`) and 105 of
108 harsher ones (JPEG quality 5-10, blur + JPEG, stretching, 160-pixel thumbnails) were
near-duplicate (one same-object: a JPEG-5 moon); crops of 50/30/15% of the area: 34/33/30
of 36 near-duplicate, never same-object. tests/test_verify.py keeps the essentials.

Everything is deterministic: keypoints are put in a canonical order and RANSAC is seeded.
OpenCV (opencv-python-headless) is imported on first use only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

Kind = Literal["near-duplicate", "same-object"]
Method = Literal["sift", "orb"]

DEFAULT_METHOD: Method = "sift"  # ORB where OpenCV lacks SIFT (before 4.4): see default_method()
WORK_SIDE = 480  # long side of the grey working copy (SIFT doubles it internally)
MAX_KEYPOINTS = 1000
RATIO = 0.75  # Lowe's ratio test
REPROJECTION_PX = 5.0  # RANSAC inlier distance, in the candidate's working pixels
RANSAC_ITERATIONS = 2000
RANSAC_CONFIDENCE = 0.995
SEED = 20240607

# --- decision thresholds (see the module docstring and tests/test_verify.py) -------------------
MIN_MATCHES = 8  # fewer putative matches: no geometry is attempted
# Near-duplicate: the inliers sit on one affine map up to noise. The statistic is the median
# residual (working pixels, normalised for the scale between the two images) after local
# smoothing over SMOOTH_NEIGHBOURS inliers (the plain median residual below
# SMOOTH_MIN_INLIERS inliers). SIFT: the named edits measured <= 0.39; JPEG quality 5-10,
# blur + JPEG, stretched copies <= 0.45 but one (0.48); real second photographs >= 0.51
# (a stereo chessboard pair), mostly > 1. ORB's corners sit on coarser pyramid pixels,
# hence its own, looser bound (and a weaker split: 17 of 48 views were same-object).
NEAR_DUPLICATE_MIN_INLIERS = 10
NEAR_DUPLICATE_MAX_DISPLACEMENT = {"sift": 0.45, "orb": 0.6}
SMOOTH_NEIGHBOURS = 16
SMOOTH_MIN_INLIERS = 16
SMOOTH_SAMPLE = 256
# Same object: a homography with at least this many inliers. Unrelated pairs: at most 7
# (SIFT and ORB); the weakest real second view measured 35.
SAME_OBJECT_MIN_INLIERS = 15
SAME_OBJECT_MIN_INLIER_RATIO = 0.2
# The inliers' hull must cover at least this share of each image (a clump of points on a
# logo or a few letters is not a picture).
MIN_COVERAGE = 0.002
# A map that shrinks or grows areas by more than this factor between the two working copies
# (both at most WORK_SIDE pixels long) is a RANSAC artefact, not a view.
MAX_AREA_CHANGE = 100.0
MAX_PAIRS = 200  # point pairs kept for drawing, strongest first
FORMAT = 1  # of cached feature files; bump when extraction changes


@dataclass(frozen=True, eq=False)
class LocalFeatures:
    """Keypoints of one image. `points` are (x, y) in the original image's pixels (for a
    `mirrored` extraction: still in the unmirrored image's pixels); `work_scale` is working
    pixels per original pixel (the RANSAC threshold applies at the working scale)."""

    method: str
    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, d) uint8: 128 bytes (SIFT) or 32 bytes of bits (ORB)
    width: int
    height: int
    work_scale: float
    mirrored: bool = False

    def __len__(self) -> int:
        return len(self.points)

    @property
    def nbytes(self) -> int:
        """Memory held, including the float descriptors `unit_descriptors` caches."""
        extra = self.descriptors.size * 4 if self.method == "sift" else 0
        return int(self.points.nbytes + self.descriptors.nbytes) + extra + 200

    def unit_descriptors(self) -> np.ndarray:
        """RootSIFT descriptors as float32 unit vectors, computed once (SIFT only)."""
        cached = self.__dict__.get("_unit")
        if cached is None:
            cached = _root_sift(self.descriptors)
            object.__setattr__(self, "_unit", cached)
        return cached

    def to_bytes(self) -> bytes:
        """A compact serialisation (cache files; a catalog column could hold it too): a
        header line of JSON, then the raw points and descriptors."""
        header = json.dumps({
            "format": FORMAT, "method": self.method, "count": len(self), "dim": int(self.descriptors.shape[1]),
            "width": self.width, "height": self.height, "work_scale": self.work_scale, "mirrored": self.mirrored,
        }).encode()
        points = np.ascontiguousarray(self.points, dtype="<f4").tobytes()
        descriptors = np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes()
        return _MAGIC + header + b"\n" + points + descriptors

    @classmethod
    def from_bytes(cls, data: bytes) -> "LocalFeatures":
        if not data.startswith(_MAGIC) or b"\n" not in data[:4096]:
            raise ValueError("not a lookalike keypoint file")
        end = data.index(b"\n")
        header = json.loads(data[len(_MAGIC) : end])
        if header.get("format") != FORMAT:
            raise ValueError(f"keypoint file format {header.get('format')}, expected {FORMAT}")
        count, dim = int(header["count"]), int(header["dim"])
        body = memoryview(data)[end + 1 :]
        if len(body) != count * 8 + count * dim:
            raise ValueError("truncated keypoint file")
        points = np.frombuffer(body[: count * 8], dtype="<f4").reshape(count, 2).astype(np.float32)
        descriptors = np.frombuffer(body[count * 8 :], dtype=np.uint8).reshape(count, dim).copy()
        return cls(str(header["method"]), points, descriptors, int(header["width"]), int(header["height"]),
                   float(header["work_scale"]), bool(header["mirrored"]))


_MAGIC = b"LKKP"


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


# --- extraction ---------------------------------------------------------------------------------

def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        from .errors import LookalikeError

        raise LookalikeError("keypoint verification needs OpenCV: pip install opencv-python-headless") from exc
    return cv2


_local = threading.local()


def default_method() -> str:
    """SIFT when this OpenCV has it (4.4 and later: the patent expired), else ORB."""
    return DEFAULT_METHOD if hasattr(_cv2(), "SIFT_create") else "orb"


def _detector(method: str, max_keypoints: int) -> Any:
    """One detector per thread and setting (OpenCV objects are not shared across threads)."""
    cache = getattr(_local, "detectors", None)
    if cache is None:
        cache = _local.detectors = {}
    key = (method, max_keypoints)
    if key not in cache:
        cv2 = _cv2()
        if method == "sift":
            cache[key] = cv2.SIFT_create(nfeatures=max_keypoints)
        elif method == "orb":
            cache[key] = cv2.ORB_create(nfeatures=max_keypoints)
        else:
            raise ValueError(f"unknown keypoint method {method!r}; known: sift, orb")
    return cache[key]


def extract_features(
    image: Image.Image,
    *,
    size: tuple[int, int] | None = None,
    mirrored: bool = False,
    method: str | None = None,
    max_side: int = WORK_SIDE,
    max_keypoints: int = MAX_KEYPOINTS,
) -> LocalFeatures:
    """Local features of one decoded image.

    `size`: the original (width, height) when `image` was decoded at reduced size (JPEG
    draft mode); points are scaled to it. `mirrored`: describe the left-right mirror image
    (SIFT and ORB turn with the picture but do not mirror), points still in unmirrored
    coordinates, so a mirrored copy verifies against the mirrored query."""
    method = method or default_method()
    width, height = size or image.size
    grey = image.convert("L")
    if mirrored:
        grey = grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    factor = min(1.0, max_side / max(grey.size))
    if factor < 1.0:
        grey = grey.resize(
            (max(1, round(grey.width * factor)), max(1, round(grey.height * factor))), Image.Resampling.BILINEAR,
            reducing_gap=3.0,  # box-reduce large photos first: much faster, no visible difference
        )
    pixels = np.asarray(grey)
    keypoints, descriptors = _detector(method, max_keypoints).detectAndCompute(pixels, None)
    descriptor_size = 128 if method == "sift" else 32
    if descriptors is None or not keypoints:
        points = np.zeros((0, 2), np.float32)
        descriptors = np.zeros((0, descriptor_size), np.uint8)
    else:
        raw = np.array([(k.pt[0], k.pt[1], k.size, k.angle, k.response) for k in keypoints], dtype=np.float64)
        order = np.lexsort((raw[:, 3], raw[:, 2], raw[:, 0], raw[:, 1], -raw[:, 4]))  # canonical order
        points = raw[order, :2].astype(np.float32)
        descriptors = np.clip(descriptors[order], 0, 255).astype(np.uint8)
        # working pixel centres -> original pixel coordinates
        points = (points + 0.5) * np.array([width / grey.width, height / grey.height], np.float32) - 0.5
        if mirrored:
            points[:, 0] = (width - 1) - points[:, 0]
    return LocalFeatures(method, points, descriptors, int(width), int(height), grey.width / width, mirrored)


# --- matching -----------------------------------------------------------------------------------

def _root_sift(descriptors: np.ndarray) -> np.ndarray:
    """RootSIFT (Arandjelovic & Zisserman): L1-normalise, square root; unit L2 length."""
    values = descriptors.astype(np.float32)
    values /= np.maximum(values.sum(axis=1, keepdims=True), 1e-6)
    return np.sqrt(values, out=values)


def _match(query: LocalFeatures, candidate: LocalFeatures, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches that are also mutual nearest neighbours: (pairs (m, 2), distance ratios)."""
    if len(query) < 2 or len(candidate) < 2:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    if query.method == "sift":
        # OpenCV's gemm rather than numpy's BLAS: as fast on one thread, and it does not spin
        # up BLAS threads that fight over a busy machine's cores.
        cv2 = _cv2()
        similarity = cv2.gemm(query.unit_descriptors(), candidate.unit_descriptors(), 1.0, None, 0.0,
                              flags=cv2.GEMM_2_T)
        rows = np.arange(len(query))
        back = similarity.argmax(axis=0)
        best = similarity.argmax(axis=1)
        best_similarity = similarity[rows, best]
        similarity[rows, best] = -np.inf
        second_similarity = similarity.max(axis=1)
        first = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * best_similarity))
        second = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * second_similarity))
    else:
        cv2 = _cv2()
        matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        pairs = matcher.knnMatch(query.descriptors, candidate.descriptors, k=2)
        best = np.array([p[0].trainIdx if p else 0 for p in pairs], np.int64)
        first = np.array([p[0].distance if p else np.inf for p in pairs], np.float64)
        second = np.array([p[1].distance if len(p) > 1 else np.inf for p in pairs], np.float64)
        back = np.full(len(candidate), -1, np.int64)
        for m in matcher.match(candidate.descriptors, query.descriptors):
            back[m.queryIdx] = m.trainIdx
    ratios = first / np.maximum(second, 1e-9)
    keep = np.nonzero((first < ratio * second) & (back[best] == np.arange(len(best))))[0]
    return np.stack([keep, best[keep]], axis=1), ratios[keep]


def _hull_area(points: np.ndarray) -> float:
    if len(points) < 3:
        return 0.0
    cv2 = _cv2()
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32))))


def _box(points: np.ndarray) -> tuple[float, float, float, float]:
    low, high = points.min(axis=0), points.max(axis=0)
    return (float(low[0]), float(low[1]), float(high[0]), float(high[1]))


def _empty(query: LocalFeatures, candidate: LocalFeatures, matches: int) -> Verification:
    return Verification(query.method, len(query), len(candidate), matches, 0, 0.0, math.inf, math.inf, math.inf, 0.0, 0.0,
                        False, 0.0, math.inf, 0.0, 0.0, None, None, (query.width, query.height),
                        (candidate.width, candidate.height), None)


def verify(query: LocalFeatures, candidate: LocalFeatures, *, ratio: float = RATIO) -> Verification:
    """Match two images' local features and check them against one homography."""
    if query.method != candidate.method:
        raise ValueError(f"cannot match {query.method} keypoints with {candidate.method} keypoints")
    pairs, ratios = _match(query, candidate, ratio)
    if len(pairs) < MIN_MATCHES:
        return _empty(query, candidate, len(pairs))
    cv2 = _cv2()
    source = (query.points[pairs[:, 0]] + 0.5) * query.work_scale
    target = (candidate.points[pairs[:, 1]] + 0.5) * candidate.work_scale
    cv2.setRNGSeed(SEED)
    homography, mask = cv2.findHomography(
        source, target, cv2.RANSAC, REPROJECTION_PX, maxIters=RANSAC_ITERATIONS, confidence=RANSAC_CONFIDENCE
    )
    if homography is None or mask is None or not np.isfinite(homography).all():
        return _empty(query, candidate, len(pairs))
    inlier = mask.ravel().astype(bool)
    count = int(inlier.sum())
    if count < 4:
        return _empty(query, candidate, len(pairs))
    src, dst = source[inlier], target[inlier]

    # The best affine map through the inliers, and how far they stray from it.
    design = np.hstack([src, np.ones((count, 1), np.float32)]).astype(np.float64)
    affine, *_ = np.linalg.lstsq(design, dst.astype(np.float64), rcond=None)  # (3, 2)
    linear = affine[:2].T
    determinant = float(np.linalg.det(linear))
    scale = math.sqrt(abs(determinant)) if determinant else 0.0
    normalise = 2.0 / (1.0 + max(scale, 1e-6))  # noise of both images, in candidate pixels
    errors = dst.astype(np.float64) - design @ affine
    residual = float(np.median(np.linalg.norm(errors, axis=1))) * normalise
    displacement = _displacement(src.astype(np.float64), errors) * normalise if count >= SMOOTH_MIN_INLIERS else residual
    singular = np.linalg.svd(linear, compute_uv=False)
    anisotropy = float(singular[0] / singular[1]) if singular[1] > 1e-12 else math.inf
    proper = linear @ np.diag([-1.0, 1.0]) if determinant < 0 else linear  # reflection taken out
    # +90: the query is the candidate turned a quarter counter-clockwise (PIL's ROTATE_90)
    rotation = math.degrees(math.atan2(proper[1, 0] - proper[0, 1], proper[0, 0] + proper[1, 1]))

    # Perspective: the homography against that affine map over the query's inlier region.
    left, top = src.min(axis=0)
    right, bottom = src.max(axis=0)
    grid_x, grid_y = np.meshgrid(np.linspace(left, right, 5), np.linspace(top, bottom, 5))
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    projected = _project(homography, grid)
    grid_design = np.hstack([grid, np.ones((len(grid), 1))])
    perspective = float(np.abs(grid_design @ affine - projected).max()) if np.isfinite(projected).all() else math.inf

    query_inliers = query.points[pairs[inlier, 0]]
    candidate_inliers = candidate.points[pairs[inlier, 1]]
    query_coverage = _hull_area(query_inliers) / float(query.width * query.height)
    candidate_coverage = _hull_area(candidate_inliers) / float(candidate.width * candidate.height)

    # Strongest pairs first (lowest ratio), for drawing.
    strongest = np.argsort(ratios[inlier], kind="stable")[:MAX_PAIRS]
    drawn = tuple(
        ((float(q[0]), float(q[1])), (float(c[0]), float(c[1])))
        for q, c in zip(query_inliers[strongest], candidate_inliers[strongest])
    )
    return Verification(
        method=query.method,
        query_keypoints=len(query),
        candidate_keypoints=len(candidate),
        matches=len(pairs),
        inliers=count,
        inlier_ratio=count / len(pairs),
        residual=residual,
        displacement=displacement,
        perspective=perspective,
        scale=scale * query.work_scale / candidate.work_scale,
        rotation=rotation,
        mirrored=determinant < 0,
        work_area_change=abs(determinant),
        anisotropy=anisotropy,
        query_coverage=query_coverage,
        candidate_coverage=candidate_coverage,
        query_region=_box(query_inliers),
        candidate_region=_box(candidate_inliers),
        query_size=(query.width, query.height),
        candidate_size=(candidate.width, candidate.height),
        homography=_original_homography(homography, query, candidate),
        pairs=drawn,
    )


def _displacement(points: np.ndarray, errors: np.ndarray) -> float:
    """Median length of the locally smoothed residual field: each inlier's residual vector
    replaced by the median over its SMOOTH_NEIGHBOURS nearest inliers, itself included (half
    the inliers when there are fewer than twice as many).
    Random localisation noise (JPEG, blur, resampling) averages away; the structured
    displacement of a real second view (perspective, parallax) does not. Evaluated at
    most at SMOOTH_SAMPLE inliers, evenly spread over the list."""
    from scipy.spatial import cKDTree

    neighbours = min(SMOOTH_NEIGHBOURS, max(8, len(points) // 2))
    sample = np.unique(np.linspace(0, len(points) - 1, min(SMOOTH_SAMPLE, len(points))).round().astype(np.int64))
    _, index = cKDTree(points).query(points[sample], k=neighbours)
    smoothed = np.median(errors[index], axis=1)
    return float(np.median(np.linalg.norm(smoothed, axis=1)))


def _project(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ homography.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return homogeneous[:, :2] / homogeneous[:, 2:3]


def _original_homography(
    homography: np.ndarray, query: LocalFeatures, candidate: LocalFeatures
) -> tuple[tuple[float, float, float], ...]:
    """The working-scale homography expressed between the two images' original pixels."""

    def to_work(scale: float) -> np.ndarray:  # original pixel -> working coordinate
        return np.array([[scale, 0, 0.5 * scale], [0, scale, 0.5 * scale], [0, 0, 1]], dtype=np.float64)

    full = np.linalg.inv(to_work(candidate.work_scale)) @ homography @ to_work(query.work_scale)
    full = full / full[2, 2] if full[2, 2] else full
    return tuple(tuple(float(v) for v in row) for row in full)  # type: ignore[return-value]


# --- decision -----------------------------------------------------------------------------------

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
    """0..1: more inliers (10 -> 0, 200 -> 1, logarithmic) and more of either image covered
    (half of it -> 1) make stronger evidence."""
    if v.inliers <= 0:
        return 0.0
    count = min(1.0, max(0.0, math.log(v.inliers / 10.0) / math.log(20.0)))
    area = min(1.0, max(v.query_coverage, v.candidate_coverage) / 0.5)
    return 0.5 * count + 0.5 * area


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


# --- cache --------------------------------------------------------------------------------------

class FeatureCache:
    """Local features by key: an in-memory LRU bounded in bytes, over an optional directory
    of files for content-addressed keys (see `feature_key`), so a stored image is decoded
    and described once, not once per process. Thread-safe; disk trouble (read-only, full,
    damaged files) only costs recomputation.

    `directory`: where the files go; default `$LOOKALIKE_CACHE_DIR/keypoints` (else the
    platform's user cache dir for "lookalike"), looked up at use time. `persist=False`:
    memory only."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, directory: str | os.PathLike[str] | None = None,
                 persist: bool = True) -> None:
        self.max_bytes = max_bytes
        self.persist = persist
        self._directory = Path(directory) if directory is not None else None
        self._items: OrderedDict[str, LocalFeatures] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.disk_hits = 0
        self.misses = 0

    @property
    def directory(self) -> Path:
        if self._directory is not None:
            return self._directory
        import platformdirs

        return Path(os.environ.get("LOOKALIKE_CACHE_DIR") or platformdirs.user_cache_dir("lookalike")) / "keypoints"

    def get(self, key: str, *, persistent: bool = False) -> LocalFeatures | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
        if persistent and self.persist:
            found = self._read(key)
            if found is not None:
                self._remember(key, found)
                with self._lock:
                    self.disk_hits += 1
                return found
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: str, features: LocalFeatures, *, persistent: bool = False) -> None:
        self._remember(key, features)
        if persistent and self.persist:
            self._write(key, features)

    def get_or_compute(self, key: str, compute: Callable[[], LocalFeatures], *, persistent: bool = False) -> LocalFeatures:
        found = self.get(key, persistent=persistent)
        if found is None:
            found = compute()
            self.put(key, found, persistent=persistent)
        return found

    def sibling(self, max_bytes: int) -> "FeatureCache":
        """Another in-memory LRU over the same files."""
        return FeatureCache(max_bytes, self._directory, self.persist)

    def clear(self) -> None:
        """Forget the in-memory entries (files stay)."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def discard(self, sha256: str) -> int:
        """Forget a file's features (every method and setting), in memory and on disk, when
        its image leaves a collection. Returns how many cache files were deleted. (The files
        are shared by every collection on this machine: another one holding the same content
        only describes it again on its next use.)"""
        suffix = f"/{sha256[:2]}/{sha256}"
        with self._lock:
            for key in [key for key in self._items if key.endswith(suffix)]:
                self._bytes -= self._items.pop(key).nbytes
        if not self.persist:
            return 0
        deleted = 0
        with contextlib.suppress(OSError):
            for path in self.directory.glob(f"*/{sha256[:2]}/{sha256}.kp"):
                with contextlib.suppress(OSError):
                    path.unlink()
                    deleted += 1
        return deleted

    def _remember(self, key: str, features: LocalFeatures) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = features
            self._bytes += features.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.kp"

    def _read(self, key: str) -> LocalFeatures | None:
        try:
            return LocalFeatures.from_bytes(self._path(key).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("ignoring unreadable keypoint cache file for %s: %s", key, exc)
            return None

    def _write(self, key: str, features: LocalFeatures) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as file:
                file.write(features.to_bytes())
            os.replace(file.name, path)  # readers never see half a file
        except OSError as exc:
            log.debug("cannot write keypoint cache file %s: %s", path, exc)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(file.name)


def feature_key(sha256: str, method: str | None = None, max_side: int = WORK_SIDE,
                max_keypoints: int = MAX_KEYPOINTS) -> str:
    """The cache key of a file's features: its content hash and the extraction setting."""
    return f"{method or default_method()}-{max_side}-{max_keypoints}-v{FORMAT}/{sha256[:2]}/{sha256}"


CACHE = FeatureCache()


def verify_images(first: Image.Image, second: Image.Image, *, mirrored: bool = False,
                  method: str | None = None) -> Verification:
    """Verify two decoded images directly (for `compare`); `mirrored`: describe the first
    image's mirror image (when the global features found it mirrored)."""
    return verify(extract_features(first, mirrored=mirrored, method=method), extract_features(second, method=method))

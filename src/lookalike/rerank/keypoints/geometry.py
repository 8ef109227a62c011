"""Matching two images' local features and checking them against one geometry.

`verify`: putative matches from Lowe's ratio test (0.75) that are also mutual nearest
neighbours, then one RANSAC homography (5 px at the working scale). The inliers, the share
of each image their convex hull covers and how far the inliers stray from the best affine
map through them are the evidence. Deterministic: RANSAC is seeded.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .decision import Verification
from .features import LocalFeatures, _cv2, extract_features

RATIO = 0.75  # Lowe's ratio test
REPROJECTION_PX = 5.0  # RANSAC inlier distance, in the candidate's working pixels
RANSAC_ITERATIONS = 2000
RANSAC_CONFIDENCE = 0.995
SEED = 20240607
MIN_MATCHES = 8  # fewer putative matches: no geometry is attempted
MAX_PAIRS = 200  # point pairs kept for drawing, strongest first
# The displacement statistic (see `_displacement`): residuals smoothed over this many
# nearest inliers, from this many inliers on, evaluated at most at SMOOTH_SAMPLE of them.
SMOOTH_NEIGHBOURS = 16
SMOOTH_MIN_INLIERS = 16
SMOOTH_SAMPLE = 256


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


def verify_images(first: Image.Image, second: Image.Image, *, mirrored: bool = False,
                  method: str | None = None) -> Verification:
    """Verify two decoded images directly (for `compare`); `mirrored`: describe the first
    image's mirror image (when the global features found it mirrored)."""
    return verify(extract_features(first, mirrored=mirrored, method=method), extract_features(second, method=method))

"""The keypoint stage (`--rerank keypoints`): is a candidate the same picture (cropped, scaled,
turned, pasted into another) or the same thing photographed again from another angle?

A global embedding or hash sees the whole picture, so it misses heavy crops, a poster cut
out of a larger photo and the same object from another viewpoint. Local features do not.
One room, one module per concern:

- `features`: SIFT (ORB as fallback) on a working copy, serialisation, cache keys;
- `geometry`: ratio-test matches, one RANSAC homography, the measured evidence;
- `decision`: what the evidence means (near-duplicate, same-object, nothing), its strength
  and reason (the thresholds, with every other tier boundary, are `lookalike.scoring`'s);
- `cache`: features by content hash, in memory and in files;
- `stage`: the re-ranking stage itself, its scores, and the indexing and removal hooks;
- `alignment`: how much of the query an aligned copy reproduces (settles contests between
  several verified copies: frames of one video, shots of one burst);
- `contest`: the default stage that verifies only candidates contesting the best copy's place.

The tuning of the thresholds, on real photographs and unrelated ones: `lookalike.scoring`.
"""

from .cache import FeatureCache, feature_cache
from .decision import Verification, kind, reason, strength
from .features import DECODE_MIN_SIDE, WORK_SIDE, LocalFeatures, default_method, extract_features, feature_key
from .alignment import Agreement, pixel_agreement
from .contest import ContestReranker
from .geometry import verify, verify_images
from .stage import (
    EVIDENCE_COVERAGE,
    EVIDENCE_INLIERS,
    EVIDENCE_QUERY_COVERAGE,
    EVIDENCE_REGION,
    MAX_PAIRS_SHOWN,
    KeypointReranker,
    contest_of,
    describe,
    explain,
    precompute,
    rescore,
    verify_pair,
)

__all__ = [
    "DECODE_MIN_SIDE", "EVIDENCE_COVERAGE", "EVIDENCE_INLIERS", "EVIDENCE_QUERY_COVERAGE",
    "EVIDENCE_REGION", "MAX_PAIRS_SHOWN",
    "WORK_SIDE", "Agreement", "ContestReranker", "FeatureCache", "KeypointReranker", "contest_of", "pixel_agreement",
    "LocalFeatures", "Verification", "default_method", "describe", "explain", "extract_features", "feature_cache", "feature_key",
    "kind", "precompute", "reason", "rescore", "strength", "verify", "verify_images", "verify_pair",
]

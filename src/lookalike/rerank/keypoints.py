"""Keypoint re-ranking (`--rerank keypoints`): crops, pastes and the same object from another
angle, verified with local features on a short candidate list.

The first stage's best `TOP_N` candidates (and any further ones scoring at least `FLOOR`,
at most `MAX_VERIFIED` in all) are decoded from their files and matched against the query
with `lookalike.verify` (SIFT, ratio test, mutual check, RANSAC homography). A verified
candidate is re-scored and re-labelled:

- near-duplicate (the same picture: a crop, a paste, a rescaled or turned copy):
  score = max(score, 0.76 + 0.23 x strength)
- same-object (another photograph of the same thing): score = max(score, 0.72 + 0.16 x strength)

where strength in [0, 1] grows with the inliers and the area they cover (`verify.strength`).
An exact match keeps its tier and score; an unverified candidate keeps its first-stage
score and tier. Every verified-or-not candidate gets the facts as evidence numbers
(`keypoint_inliers`, `keypoint_coverage` = share of the stored image covered,
`keypoint_query_coverage`; verified ones also `keypoint_region_*`, the inliers' box in the
stored image as fractions of its width and height); if `Match` has an `explanation` field,
it receives the whole `Verification.to_dict()` (reason, regions, point pairs).

Candidate features are cached in memory by content hash (`verify.CACHE`), so a candidate
seen before is neither decoded nor described again. A candidate whose file is gone,
unreadable or changed since it was indexed (other content hash) is skipped and keeps its
first-stage result.
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Callable, cast

from ..decode import decode_image, read_bytes
from ..errors import DecodeError
from . import Reranker, register_reranker

if TYPE_CHECKING:
    from ..query import QueryImage
    from ..records import ImageRecord, Match
    from ..settings import Settings
    from ..store import Store
    from ..verify import FeatureCache, LocalFeatures, Verification

TOP_N = 10
FLOOR = 0.6
MAX_VERIFIED = 20
WORKERS = 2
NEAR_DUPLICATE_SCORES = (0.76, 0.99)
SAME_OBJECT_SCORES = (0.72, 0.88)
MIRRORED_ORIENTATIONS = frozenset({"mirrored", "flipped", "transposed", "transversed"})
EVIDENCE_INLIERS = "keypoint_inliers"
EVIDENCE_COVERAGE = "keypoint_coverage"
EVIDENCE_QUERY_COVERAGE = "keypoint_query_coverage"
EVIDENCE_REGION = ("keypoint_region_left", "keypoint_region_top", "keypoint_region_right", "keypoint_region_bottom")


@register_reranker("keypoints")
class KeypointReranker(Reranker):
    name = "keypoints"

    def __init__(
        self,
        top_n: int = TOP_N,
        floor: float = FLOOR,
        max_verified: int = MAX_VERIFIED,
        method: str | None = None,
        cache: "FeatureCache | None" = None,
        workers: int = WORKERS,
    ) -> None:
        from .. import verify

        self.top_n = top_n
        self.floor = floor
        self.max_verified = max_verified
        self.method = method or verify.DEFAULT_METHOD
        self.cache = cache if cache is not None else verify.CACHE
        self.workers = workers
        self.verifications: dict[int, "Verification"] = {}  # image id -> evidence, for this search

    def rerank(self, store: "Store", query: "QueryImage", matches: list["Match"]) -> list["Match"]:
        from ..verify import verify

        chosen = self._chosen(matches)
        if not chosen:
            return matches
        mirrored = sorted({matches[i].orientation in MIRRORED_ORIENTATIONS for i in chosen})
        jobs: list[Callable[[], "LocalFeatures | None"]] = [
            (lambda flip=flip: self._query_features(query, flip)) for flip in mirrored  # type: ignore[misc]
        ]
        jobs += [(lambda record=matches[i].image: self._candidate_features(record, store.settings)) for i in chosen]
        results = self._run(jobs)
        query_features = dict(zip(mirrored, results[: len(mirrored)]))
        rescored = list(matches)
        for index, candidate in zip(chosen, results[len(mirrored):]):
            match = matches[index]
            query_side = query_features[match.orientation in MIRRORED_ORIENTATIONS]
            if candidate is None or query_side is None:
                continue
            evidence = verify(query_side, candidate)
            self.verifications[match.image.id] = evidence
            rescored[index] = rescore(match, evidence)
        order = sorted(range(len(rescored)), key=lambda i: -rescored[i].score)  # stable: ties keep their order
        return [rescored[i] for i in order]

    def _chosen(self, matches: list["Match"]) -> list[int]:
        chosen = []
        for index, match in enumerate(matches):
            if len(chosen) >= self.max_verified or (index >= self.top_n and match.score < self.floor):
                break
            if match.tier != "exact":
                chosen.append(index)
        return chosen

    def _run(self, jobs: list[Callable[[], Any]]) -> list[Any]:
        if self.workers <= 1 or len(jobs) <= 1:
            return [job() for job in jobs]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs)), thread_name_prefix="lookalike-keypoints") as pool:
            return list(pool.map(lambda job: job(), jobs))

    def _query_features(self, query: "QueryImage", mirrored: bool) -> "LocalFeatures":
        from ..verify import extract_features

        key = ("query", query.sha256, mirrored, self.method)
        return self.cache.get_or_compute(key, lambda: extract_features(query.image, mirrored=mirrored, method=self.method))

    def _candidate_features(self, record: "ImageRecord", settings: "Settings") -> "LocalFeatures | None":
        """The stored image's features: from the cache, else from the first of its files that
        still holds the indexed content."""
        from ..verify import WORK_SIDE, extract_features

        key = ("image", record.sha256, self.method)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        for path in record.paths:
            try:
                data = read_bytes(path, settings.max_bytes)
                if hashlib.sha256(data).hexdigest() != record.sha256:
                    continue  # changed since it was indexed: not the stored image any more
                decoded = decode_image(data, path, min_side=_min_side(record, WORK_SIDE), max_pixels=settings.max_pixels)
            except DecodeError:
                continue  # gone, unreadable or damaged: try the next path
            features = extract_features(decoded.image, size=(decoded.width, decoded.height), method=self.method)
            self.cache.put(key, features)
            return features
        return None


def _min_side(record: "ImageRecord", long_side: int) -> int:
    """The short side JPEG draft decoding must keep for a long side of at least `long_side`."""
    width, height = record.width, record.height
    if width <= 0 or height <= 0:
        return long_side
    return max(1, math.ceil(long_side * min(width, height) / max(width, height)))


def rescore(match: "Match", evidence: "Verification") -> "Match":
    """The match with the verification's score, tier and evidence (see the module docstring)."""
    numbers = {
        **match.evidence,
        EVIDENCE_INLIERS: float(evidence.inliers),
        EVIDENCE_COVERAGE: float(evidence.candidate_coverage),
        EVIDENCE_QUERY_COVERAGE: float(evidence.query_coverage),
    }
    found = evidence.kind
    changes: dict[str, Any] = {}
    if found is not None and evidence.candidate_region is not None:
        left, top, right, bottom = evidence.candidate_region
        width, height = max(match.image.width, 1), max(match.image.height, 1)
        for name, value in zip(EVIDENCE_REGION, (left / width, top / height, right / width, bottom / height)):
            numbers[name] = min(1.0, max(0.0, value))
        if match.tier != "exact":
            low, high = NEAR_DUPLICATE_SCORES if found == "near-duplicate" else SAME_OBJECT_SCORES
            changes["score"] = max(match.score, low + (high - low) * evidence.strength)
            changes["tier"] = cast(Any, found)
    if "explanation" in {f.name for f in fields(match)}:  # once records.Match carries one
        changes["explanation"] = {"keypoints": evidence.to_dict(max_pairs=50)}
    return replace(match, evidence=numbers, **changes)


def explain(match: "Match") -> str | None:
    """Plain words for a match re-scored by this stage, from its evidence numbers alone
    (for `search --explain` until Match carries the full explanation)."""
    numbers = match.evidence
    if EVIDENCE_INLIERS not in numbers:
        return None
    inliers = int(numbers[EVIDENCE_INLIERS])
    coverage = numbers.get(EVIDENCE_COVERAGE, 0.0)
    query_coverage = numbers.get(EVIDENCE_QUERY_COVERAGE, 0.0)
    if EVIDENCE_REGION[0] not in numbers:
        return f"keypoints: not verified ({inliers} agree on one geometry)"
    left, top, right, bottom = (numbers[name] for name in EVIDENCE_REGION)
    geometry = "one homography (another view)" if match.tier == "same-object" else "one similarity/affine map"
    return (f"{inliers} keypoints agree under {geometry} covering {coverage:.0%} of the stored image "
            f"(x {left:.0%}-{right:.0%}, y {top:.0%}-{bottom:.0%}) and {query_coverage:.0%} of the query")

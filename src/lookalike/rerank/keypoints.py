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

Candidate features are cached by content hash (`verify.CACHE`: in memory, and as files
under `$LOOKALIKE_CACHE_DIR/keypoints`), so a candidate seen before, by this process or
another, is neither decoded nor described again; `precompute` fills the cache ahead of
queries. A candidate whose file is gone, unreadable or changed since it was indexed (other
content hash) and not cached is skipped and keeps its first-stage result.
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

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
    # The short side the query should be decoded with (JPEG draft mode may otherwise hand
    # over a 1/8-size picture of a large photo): enough for a WORK_SIDE-long working copy.
    query_min_side = 360

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
        self._method = method
        self.cache = cache if cache is not None else verify.CACHE
        self.workers = workers
        self.verifications: dict[int, "Verification"] = {}  # image id -> evidence, for this search

    @property
    def method(self) -> str:
        from ..verify import default_method

        return self._method or default_method()

    def rerank(self, store: "Store", query: "QueryImage", matches: list["Match"]) -> list["Match"]:
        from ..verify import verify

        chosen = self._chosen(matches)
        if not chosen:
            return matches
        mirrored = sorted({matches[i].orientation in MIRRORED_ORIENTATIONS for i in chosen})
        query = self._sharper_query(query, store)
        jobs: list[Callable[[], "LocalFeatures | None"]] = [
            (lambda flip=flip: self._query_features(query, flip)) for flip in mirrored  # type: ignore[misc]
        ]
        jobs += [(lambda record=matches[i].image: self._candidate_features(record, store.settings)) for i in chosen]
        results = self._run(jobs)
        query_features: dict[bool, "LocalFeatures"] = dict(zip(mirrored, results[: len(mirrored)]))
        rescored = list(matches)
        for index, candidate in zip(chosen, results[len(mirrored):]):
            match = matches[index]
            if candidate is None:
                continue
            flip = match.orientation in MIRRORED_ORIENTATIONS
            evidence = verify(query_features[flip], candidate)
            if _worth_the_other_mirror(match, flip, evidence, store.settings.min_near_duplicate_score):
                # The global features cannot tell a picture from its mirror image when it is
                # (nearly) symmetric or heavily cropped; keypoints can: try the other one.
                if (not flip) not in query_features:
                    query_features[not flip] = self._query_features(query, not flip)
                other = verify(query_features[not flip], candidate)
                if _better(other, evidence):
                    evidence = other
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

    def _sharper_query(self, query: "QueryImage", store: "Store") -> "QueryImage":
        """The query decoded with at least `query_min_side` pixels on its short side.

        Search decodes a JPEG query only as large as the global features need (a 4000-pixel
        photo may arrive at 1/8 size), too small for keypoints. While search does not yet
        honour `query_min_side`, a query read from a file is decoded again from that file
        (when it still holds the same bytes) at the size keypoints need."""
        from dataclasses import replace as replaced

        from ..features.base import needed_side
        from ..verify import WORK_SIDE

        image, settings = query.image, store.settings
        if max(image.size) >= WORK_SIDE or min(image.size) >= self.query_min_side or query.name.startswith("<"):
            return query
        if min(image.size) < needed_side(store.specs):
            return query  # smaller than draft decoding would have left it: the full picture
        try:
            data = read_bytes(query.name, settings.max_bytes)
            if not data.startswith(b"\xff\xd8\xff") or hashlib.sha256(data).hexdigest() != query.sha256:
                return query  # only JPEGs are decoded at reduced size
            decoded = decode_image(data, query.name, min_side=self.query_min_side, max_pixels=settings.max_pixels)
        except DecodeError:
            return query
        return replaced(query, image=decoded.image) if decoded.image.width > image.width else query

    def _query_features(self, query: "QueryImage", mirrored: bool) -> "LocalFeatures":
        from ..verify import extract_features

        key = f"query/{self.method}/{query.sha256}/{'mirrored' if mirrored else 'original'}"
        return self.cache.get_or_compute(key, lambda: extract_features(query.image, mirrored=mirrored, method=self.method))

    def _candidate_features(self, record: "ImageRecord", settings: "Settings") -> "LocalFeatures | None":
        """The stored image's features: from the cache, else from the first of its files that
        still holds the indexed content."""
        from ..verify import WORK_SIDE, extract_features, feature_key

        key = feature_key(record.sha256, self.method)
        cached = self.cache.get(key, persistent=True)
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
            self.cache.put(key, features, persistent=True)
            return features
        return None


def _worth_the_other_mirror(match: "Match", flipped: bool, evidence: "Verification", copy_score: float) -> bool:
    """Verify with the query's other mirror image too when the points found say the other
    one (symmetric detail matching its own mirror image: the map reflects although the
    descriptors did not, or the other way round) or when nothing was found although the
    first stage calls the candidate a copy."""
    from ..verify import NEAR_DUPLICATE_MIN_INLIERS

    if evidence.inliers >= NEAR_DUPLICATE_MIN_INLIERS and evidence.mirrored != flipped:
        return True
    return evidence.kind is None and match.score >= copy_score


_KIND_RANK = {"near-duplicate": 2, "same-object": 1, None: 0}


def _better(first: "Verification", second: "Verification") -> bool:
    return (_KIND_RANK[first.kind], first.inliers) > (_KIND_RANK[second.kind], second.inliers)


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
        width, height = (max(side, 1) for side in evidence.candidate_size)
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


def precompute(
    store: "Store",
    ids: Sequence[int] | None = None,
    *,
    method: str | None = None,
    workers: int = WORKERS,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Describe every stored image (or `ids`) into the keypoint cache ahead of queries, so
    that `--rerank keypoints` never decodes a candidate at query time. Returns how many
    images have features (cached before or now)."""
    from ..verify import CACHE

    # the shared cache's files, with a small memory of its own: a big collection streams through
    stage = KeypointReranker(method=method, workers=workers, cache=CACHE.sibling(16 * 1024 * 1024))
    all_ids = list(store.image_ids() if ids is None else ids)
    done = 0
    for start in range(0, len(all_ids), 64):
        records = store.images(all_ids[start : start + 64])
        jobs = [(lambda record=record: stage._candidate_features(record, store.settings)) for record in records.values()]
        done += sum(features is not None for features in stage._run(jobs))
        if on_progress is not None:
            on_progress(min(start + 64, len(all_ids)), len(all_ids))
    return done

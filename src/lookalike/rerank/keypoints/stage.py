"""Keypoint re-ranking (`--rerank keypoints`): crops, pastes and the same object from another
angle, verified with local features on a short candidate list.

The first stage's best `TOP_N` candidates (and any further ones scoring at least `FLOOR`,
at most `MAX_VERIFIED` in all), plus the `PART_CANDIDATES` that a window of the query
resembles most (a picture pasted into the query: `lookalike.query_parts`, asked for unless
the first stage is sure), are decoded from their files and matched against the query
with `geometry.verify` (SIFT, ratio test, mutual check, RANSAC homography). A verified
candidate is re-scored and re-labelled:

- near-duplicate (the same picture: a crop, a paste, a rescaled or turned copy): the higher
  of its score and a band just above the near-duplicate threshold;
- same-object (another photograph of the same thing): a band just below that threshold
  (the first-stage score is set aside: it cannot rank views of one object);
- refuted (both images had keypoints enough, none agree on a geometry): its score drops
  below the same-object band and its tier follows (a look-alike the first stage took for a
  copy: the next frame of a video, another pose of a chessboard, the same clip art twice);

placed within the band by the strength of the evidence (more inliers, more area covered).
The bands, the boundaries and the strength are `lookalike.scoring`'s
(`verified_score`, `refuted_score`, `keypoint_tier`), so the tiers the stage sets agree
with the scores and follow a calibrated threshold. An exact match keeps its tier and
score; a candidate the stage could not describe keeps its first-stage score and tier.
Every verified-or-not candidate gets the facts as evidence numbers
(`keypoint_inliers`, `keypoint_coverage` = share of the stored image covered,
`keypoint_query_coverage`; verified ones also `keypoint_region_*`, the inliers' box in the
stored image as fractions of its width and height);
`explanation["keypoints"]` receives `Verification.to_dict()` (reason, regions, the strongest
`MAX_PAIRS_SHOWN` point pairs for drawing).

Time: the query is described only when there is something to verify (SIFT on it costs
~40-75 ms of CPU, more than the rest of a query); the candidates are loaded and verified on
`WORKERS` threads (OpenCV releases the GIL). When the first stage's best match already
scores `scoring.KEYPOINT_CONFIDENT` or more, only that match is verified (no windows of the
query, no other candidates) unless the keypoints refute it: then the next `FALLBACK`
candidates that are not exact are verified as well. It is verified even when the hashes call it the same picture: they say the
same of the next frame of a video or the other photo of a stereo pair, which the keypoints
tell from a copy (parallax: no single map fits), and a stage whose tiers changed with
`--explain` would show one answer and give another.
`bench/crops.py` measures the stage.

Candidate features are cached by content hash (the collection's `cache.feature_cache`: in
memory, and as files under `Settings.cache_root()/keypoints`), so a candidate seen before, by
this process or another, is neither decoded nor described again; `precompute` fills the cache ahead of
queries, and indexing does it for new images with `index --keypoints` (or this stage in
`Settings.rerank`); removing an image deletes its files. A candidate whose file is gone, unreadable or changed since it was indexed (other
content hash) and not cached is skipped and keeps its first-stage result.
"""

from __future__ import annotations

import hashlib
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ...decode import decode_image, read_bytes
from ...errors import DecodeError
from ...query_parts import PART_EVIDENCE
from .. import KEYPOINTS_STAGE, Reranker, register_reranker
from .cache import FeatureCache, feature_cache
from ...scoring import (
    AGREEMENT_SIDE,
    CONTEST_ROUNDS,
    KEYPOINT_CONFIDENT,
    NEAR_DUPLICATE_MIN_INLIERS,
    contenders,
    keypoint_tier,
    outvoted,
    outvoted_score,
    refuted_score,
    refutes,
    verdict_of,
    verified_score,
)
from .alignment import Agreement, pixel_agreement
from .decision import Verification
from .features import DECODE_MIN_SIDE, WORK_SIDE, LocalFeatures, default_method, extract_features, feature_key
from .geometry import verify

if TYPE_CHECKING:
    from PIL import Image

    from ...decode import Decoded
    from ...query import QueryImage
    from ...records import Comparison, ImageRecord, Match
    from ...runtime import Runtime
    from ...settings import Settings
    from ...store import Store

TOP_N = 10
FLOOR = 0.6
MAX_VERIFIED = 20
# Candidates verified besides those, best by a window of the query (`lookalike.query_parts`).
PART_CANDIDATES = 4
WORKERS = 2
# Candidates verified after a confident best match the keypoints refuted.
FALLBACK = 4
MIRRORED_ORIENTATIONS = frozenset({"mirrored", "flipped", "transposed", "transversed"})
MAX_PAIRS_SHOWN = 50  # point pairs an explanation carries (lines on the web page)
EVIDENCE_INLIERS = "keypoint_inliers"
EVIDENCE_COVERAGE = "keypoint_coverage"
EVIDENCE_QUERY_COVERAGE = "keypoint_query_coverage"
EVIDENCE_AGREEMENT = "pixel_agreement"  # share of the query's detail an aligned copy reproduces
EVIDENCE_REGION = ("keypoint_region_left", "keypoint_region_top", "keypoint_region_right", "keypoint_region_bottom")


@register_reranker(KEYPOINTS_STAGE)
class KeypointReranker(Reranker):
    name = KEYPOINTS_STAGE
    query_min_side = DECODE_MIN_SIDE

    def __init__(
        self,
        runtime: "Runtime | None" = None,
        *,
        top_n: int = TOP_N,
        floor: float = FLOOR,
        max_verified: int = MAX_VERIFIED,
        method: str | None = None,
        cache: FeatureCache | None = None,
        workers: int = WORKERS,
        confident: float | None = KEYPOINT_CONFIDENT,
        fallback: int = FALLBACK,
        part_candidates: int = PART_CANDIDATES,
    ) -> None:

        self.confident = confident
        self.fallback = fallback
        self.part_candidates = part_candidates
        self.top_n = top_n
        self.floor = floor
        self.max_verified = max_verified
        self._method = method
        # the collection's cache (its runtime's); a stage made without one takes the store's
        # at its first search, or a private one
        self.cache = cache if cache is not None else (feature_cache(runtime) if runtime is not None else None)
        self.workers = workers
        self.verifications: dict[int, Verification] = {}  # image id -> evidence, for this search
        self.agreements: dict[int, Agreement | None] = {}  # image id -> pixel agreement, for this search

    @property
    def method(self) -> str:

        return self._method or default_method()

    def wants_parts(self, matches: list["Match"]) -> bool:
        """A stored picture pasted into the query scores low on the whole query's features:
        ask for the candidates its windows propose, unless the first stage is sure."""
        return not self._sure(matches)

    def _sure(self, matches: list["Match"]) -> bool:
        return self.confident is not None and bool(matches) and matches[0].score >= self.confident

    def rerank(self, store: "Store", query: "QueryImage", matches: list["Match"]) -> list["Match"]:
        if self.cache is None:
            self.cache = feature_cache(store.runtime)
        chosen, rest, by_part = self._to_verify(matches, store.settings.min_near_duplicate_score)
        if not chosen:
            return matches
        query_features: dict[bool, LocalFeatures] = {}
        lock = threading.Lock()

        def query_side(flip: bool) -> LocalFeatures:
            with lock:
                if flip not in query_features:
                    query_features[flip] = self._query_features(query, flip)
                return query_features[flip]

        def check(index: int) -> Verification | None:
            match = matches[index]
            candidate = self._candidate_features(match.image, store.settings)
            if candidate is None:
                return None
            # A paste's orientation is the host's, not the picture's, and a match the first
            # stage is unsure of may have won in any orientation: start unmirrored.
            trusted = index not in by_part and match.tier == "near-duplicate"
            flip = trusted and match.orientation in MIRRORED_ORIENTATIONS
            evidence = verify(query_side(flip), candidate)
            if not trusted and evidence.kind is None or _worth_the_other_mirror(
                    match, flip, evidence, store.settings.min_near_duplicate_score):
                # The global features cannot tell a picture from its mirror image when it is
                # (nearly) symmetric or heavily cropped; keypoints can: try the other one.
                other = verify(query_side(not flip), candidate)
                if _better(other, evidence):
                    evidence = other
            return evidence

        threshold = store.settings.min_near_duplicate_score
        rescored = list(matches)

        def verify_all(indexes: list[int]) -> None:
            results = self._run([(lambda index=i: check(index)) for i in indexes])
            for index, evidence in zip(indexes, results):
                if evidence is None:
                    continue  # the stored image could not be described: first-stage result kept
                self.verifications[matches[index].image.id] = evidence
                rescored[index] = rescore(matches[index], evidence, threshold)

        verify_all(chosen)
        if rest and chosen and rescored[chosen[0]].score < matches[chosen[0]].score and rescored[chosen[0]].tier == "similar":
            verify_all(rest[:self.fallback])  # the confident best match was refuted: look further
        self._settle_contest(store, query, rescored, threshold)
        for _ in range(CONTEST_ROUNDS - 1):
            # the outvoted made room: copies the first round did not reach now rank high
            order = _best_first(rescored)
            newcomers = [order[j] for j in contest_of([rescored[i] for i in order], threshold)
                         if rescored[order[j]].image.id not in self.verifications]
            if not newcomers:
                break
            verify_all(newcomers)
            self._settle_contest(store, query, rescored, threshold)
        return [rescored[i] for i in _best_first(rescored)]

    def _to_verify(self, matches: list["Match"], min_near_duplicate: float) -> tuple[list[int], list[int], list[int]]:
        """(positions to verify, positions to verify if the best is refuted, the positions
        proposed by windows of the query), each best first. Contenders for the best match's
        place (`scoring.contenders`) are always verified."""
        usual = self._usual(matches)
        rivals = contest_of(matches, min_near_duplicate)
        if self._sure(matches):
            # a copy, a crop or another view: the keypoints tell which (even the hashes cannot
            # tell a recompressed copy from the next frame of a video); nothing more to verify
            # unless they refute it, or other candidates contest its place
            first = usual[:1] if usual and usual[0] == 0 else []
            chosen = sorted(set(first) | set(rivals))
            return chosen, [i for i in usual if i not in chosen], []
        by_part = self._by_part(matches, usual)
        return usual + by_part + [i for i in rivals if i not in usual and i not in by_part], [], by_part

    def _settle_contest(self, store: "Store", query: "QueryImage", rescored: list["Match"], threshold: float) -> None:
        """Several candidates verified as copies of the query: align each on it
        (`alignment.pixel_agreement`); one that reproduces clearly less of the query than the
        best (`scoring.outvoted`) is another shot of the scene, not the source."""
        copies = [i for i, match in enumerate(rescored)
                  if match.tier == "near-duplicate" and _aligned(self.verifications.get(match.image.id))]
        if len(copies) < 2:
            return
        found = self._run([(lambda i=i: self._agreement(store, query, rescored[i])) for i in copies])
        measured = {i: agreement for i, agreement in zip(copies, found) if agreement is not None}
        if len(measured) < 2:
            return
        best = max(agreement.share for agreement in measured.values())
        for i, agreement in measured.items():
            rescored[i] = contested(rescored[i], agreement, best, threshold)

    def _agreement(self, store: "Store", query: "QueryImage", match: "Match") -> Agreement | None:
        if match.image.id in self.agreements:
            return self.agreements[match.image.id]
        evidence = self.verifications[match.image.id]
        decoded = self._stored_image(match.image, store.settings, AGREEMENT_SIDE)
        found = None
        if decoded is not None and evidence.homography is not None:
            found = pixel_agreement(query.image, decoded.image, evidence.homography, (decoded.width, decoded.height))
        self.agreements[match.image.id] = found
        return found

    def _own_cache(self) -> FeatureCache:
        if self.cache is None:
            self.cache = FeatureCache()
        return self.cache

    def on_index(self, images: Sequence[tuple[str, "Image.Image", tuple[int, int]]]) -> None:
        describe(images, self._own_cache(), method=self._method, workers=self.workers)

    def on_remove(self, records: Sequence["ImageRecord"]) -> None:
        for record in records:
            self._own_cache().discard(record.sha256)

    def compare(self, first: "Image.Image", second: "Image.Image", result: "Comparison",
                settings: "Settings") -> "Comparison":
        """A verified copy (crop, paste, rescale) becomes "same" with its score raised into
        the near-duplicate band; another photograph of the same thing gets tier and verdict
        "same-object"; a refuted pair drops below both; `explanation["keypoints"]` says why.
        Exact pairs stay as they are."""
        if result.tier == "exact":
            return result
        threshold = settings.min_near_duplicate_score
        found = verify_pair(first, second, result.orientation, threshold, result.score, method=self._method)
        explanation = {"keypoints": found.to_dict(max_pairs=MAX_PAIRS_SHOWN)}
        score = _judged_score(result.score, found, threshold)
        tier = keypoint_tier(score, found.kind, False, threshold)
        return replace(result, score=score, tier=tier, verdict=verdict_of(score, tier, settings.min_same_score),
                       explanation=explanation)

    def _usual(self, matches: list["Match"]) -> list[int]:
        """The best `top_n` (and any further ones scoring `floor` or more, `max_verified` in all)."""
        chosen = []
        for index, match in enumerate(matches):
            if len(chosen) >= self.max_verified or (index >= self.top_n and match.score < self.floor):
                break
            if match.tier != "exact":
                chosen.append(index)
        return chosen

    def _by_part(self, matches: list["Match"], usual: list[int]) -> list[int]:
        """Besides `usual`, the `part_candidates` best by a window of the query (a paste)."""
        ranked = sorted((i for i, m in enumerate(matches) if PART_EVIDENCE in m.evidence and m.tier != "exact"),
                        key=lambda i: -matches[i].evidence[PART_EVIDENCE])
        return [i for i in ranked if i not in usual][:self.part_candidates]

    def _run(self, jobs: list[Callable[[], Any]]) -> list[Any]:
        if self.workers <= 1 or len(jobs) <= 1:
            return [job() for job in jobs]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs)), thread_name_prefix="lookalike-keypoints") as pool:
            return list(pool.map(lambda job: job(), jobs))

    def _query_features(self, query: "QueryImage", mirrored: bool) -> LocalFeatures:

        key = f"query/{self.method}/{query.sha256}/{'mirrored' if mirrored else 'original'}"
        return self.cache.get_or_compute(key, lambda: extract_features(query.image, mirrored=mirrored, method=self.method))

    def _candidate_features(self, record: "ImageRecord", settings: "Settings") -> LocalFeatures | None:
        """The stored image's features: from the cache, else from the first of its files that
        still holds the indexed content."""

        key = feature_key(record.sha256, self.method)
        cached = self.cache.get(key, persistent=True)
        if cached is not None:
            return cached
        decoded = self._stored_image(record, settings, WORK_SIDE)
        if decoded is None:
            return None
        features = extract_features(decoded.image, size=(decoded.width, decoded.height), method=self.method)
        self.cache.put(key, features, persistent=True)
        return features

    @staticmethod
    def _stored_image(record: "ImageRecord", settings: "Settings", long_side: int) -> "Decoded | None":
        """The stored image decoded from the first of its files that still holds the indexed
        content, at least `long_side` on its long side where the file allows (JPEG draft)."""
        for path in record.paths:
            try:
                data = read_bytes(path, settings.max_bytes)
                if hashlib.sha256(data).hexdigest() != record.sha256:
                    continue  # changed since it was indexed: not the stored image any more
                return decode_image(data, path, min_side=_min_side(record, long_side), max_pixels=settings.max_pixels)
            except DecodeError:
                continue  # gone, unreadable or damaged: try the next path
        return None


def verify_pair(first: "Image.Image", second: "Image.Image", orientation: str, copy_score: float,
                score: float, method: str | None = None) -> Verification:
    """Keypoint evidence for `compare`: the first image (found by the global features in
    `orientation`, with fused `score`) against the second, trying the first's other mirror
    image when the search stage would (see `_worth_the_other_mirror`)."""

    method = method or default_method()
    target = extract_features(second, method=method)
    flip = orientation in MIRRORED_ORIENTATIONS
    evidence = verify(extract_features(first, mirrored=flip, method=method), target)
    if (evidence.inliers >= NEAR_DUPLICATE_MIN_INLIERS and evidence.mirrored != flip) or (
            evidence.kind is None and score >= copy_score):
        other = verify(extract_features(first, mirrored=not flip, method=method), target)
        if _better(other, evidence):
            evidence = other
    return evidence


def _worth_the_other_mirror(match: "Match", flipped: bool, evidence: Verification, copy_score: float) -> bool:
    """Verify with the query's other mirror image too when the points found say the other
    one (symmetric detail matching its own mirror image: the map reflects although the
    descriptors did not, or the other way round) or when nothing was found although the
    first stage calls the candidate a copy."""

    if evidence.inliers >= NEAR_DUPLICATE_MIN_INLIERS and evidence.mirrored != flipped:
        return True
    return evidence.kind is None and match.score >= copy_score


_KIND_RANK = {"near-duplicate": 2, "same-object": 1, None: 0}


def _better(first: Verification, second: Verification) -> bool:
    return (_KIND_RANK[first.kind], first.inliers) > (_KIND_RANK[second.kind], second.inliers)


def _best_first(matches: list["Match"]) -> list[int]:
    return sorted(range(len(matches)), key=lambda i: -matches[i].score)  # stable: ties keep their order


def contest_of(matches: list["Match"], min_near_duplicate: float) -> list[int]:
    """`scoring.contenders` of the first stage's matches (their fused score before the
    background judged it is in the explanation `search` gives, when the background moved it)."""
    unjudged = [float(((m.explanation or {}).get("background") or {}).get("fused", m.score)) for m in matches]
    return contenders([m.score for m in matches], [m.tier for m in matches], unjudged, min_near_duplicate)


def _aligned(evidence: Verification | None) -> bool:
    return evidence is not None and evidence.kind == "near-duplicate" and evidence.homography is not None


def contested(match: "Match", agreement: Agreement, best: float, min_near_duplicate: float) -> "Match":
    """The match with its pixel agreement as evidence; outvoted (`scoring.outvoted`): moved
    into the same-object band, with the reason in its explanation."""
    numbers = {**match.evidence, EVIDENCE_AGREEMENT: agreement.share}
    if not outvoted(agreement.share, best):
        return replace(match, evidence=numbers)
    found = dict((match.explanation or {}).get("keypoints") or {})
    found["reason"] = (f"aligned, it reproduces {agreement.share:.0%} of the query's detail where the best copy "
                       f"reproduces {best:.0%}: another shot of the same scene, not the query's source")
    return replace(match, evidence=numbers, score=outvoted_score(match.score, agreement.share, best, min_near_duplicate),
                   tier="same-object", explanation={**(match.explanation or {}), "keypoints": found})


def _min_side(record: "ImageRecord", long_side: int) -> int:
    """The short side JPEG draft decoding must keep for a long side of at least `long_side`."""
    width, height = record.width, record.height
    if width <= 0 or height <= 0:
        return long_side
    return max(1, math.ceil(long_side * min(width, height) / max(width, height)))


def rescore(match: "Match", evidence: Verification, min_near_duplicate: float) -> "Match":
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
        changes["score"] = _judged_score(match.score, evidence, min_near_duplicate)
        changes["tier"] = keypoint_tier(changes["score"], found, False, min_near_duplicate)
    changes["explanation"] = {**(match.explanation or {}), "keypoints": evidence.to_dict(max_pairs=MAX_PAIRS_SHOWN)}
    return replace(match, evidence=numbers, **changes)


def _judged_score(score: float, evidence: Verification, min_near_duplicate: float) -> float:
    """The first-stage score after verification: into a verified kind's band, below both
    when the keypoints refute a copy, else unchanged."""
    if evidence.kind is not None:
        return verified_score(score, evidence.kind, evidence.strength, min_near_duplicate)
    if refutes(evidence.query_keypoints, evidence.candidate_keypoints, evidence.kind):
        return refuted_score(score, min_near_duplicate)
    return score


def explain(match: "Match") -> str | None:
    """Plain words for a match this stage looked at: the verification's reason, else (a
    match rebuilt from its evidence numbers alone) words made from those numbers."""
    found = (match.explanation or {}).get("keypoints")
    if found:
        return str(found["reason"])
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


def describe(images: Sequence[tuple[str, "Image.Image", tuple[int, int]]], cache: FeatureCache, *,
             method: str | None = None, workers: int = WORKERS) -> None:
    """Put freshly decoded images' features into the keypoint cache (files included), as
    (content hash, image, original (width, height)); used by indexing."""
    if not images:
        return

    def one(sha256: str, image: "Image.Image", size: tuple[int, int]) -> None:
        key = feature_key(sha256, method)
        if cache.get(key, persistent=True) is None:
            cache.put(key, extract_features(image, size=size, method=method), persistent=True)

    stage = KeypointReranker(workers=workers, cache=cache)
    stage._run([(lambda item=item: one(*item)) for item in images])


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

    # the collection's cache files, with a small memory of its own: a big collection streams through
    cache = feature_cache(store.runtime).sibling(16 * 1024 * 1024)
    stage = KeypointReranker(method=method, workers=workers, cache=cache)
    all_ids = list(store.image_ids() if ids is None else ids)
    done = 0
    for start in range(0, len(all_ids), 64):
        records = store.images(all_ids[start : start + 64])
        jobs = [(lambda record=record: stage._candidate_features(record, store.settings)) for record in records.values()]
        done += sum(features is not None for features in stage._run(jobs))
        if on_progress is not None:
            on_progress(min(start + 64, len(all_ids)), len(all_ids))
    return done

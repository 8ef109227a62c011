"""search(query) -> ranked, tier-labelled matches; compare(a, b) -> score and verdict.

Search is two stages: candidates from the hash and embedding indexes (each queried with
the query in all eight orientations), then every candidate re-scored exactly on every
feature and fused (`lookalike.scoring`), keeping each candidate's best orientation (reported
as turned only where the features that see the turn vouch for it: `_reported_rows`).

The CNN features of the turned query cost one CNN pass per rotation, most of a query's
time, and matter only for a turned copy that the hashes do not see (turned and cropped,
say). So search first runs with the CNN on the upright query only and turns it only when
that leaves doubt (`_settled`): no sure copy upright, or a candidate whose hashes match
a turned orientation (its fused score there lacks the CNN's evidence).

Scores are judged as `lookalike.scoring` says: the hashes weighted by how informative they
are on the query and on each candidate, every score set against the query's background in
this collection (its similarity to its nearest unrelated candidates), and "exact" only for
the same file or the same decoded pixels (the query's pixel digest is computed only when a
candidate has its full size and a stored digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from .features.base import FeatureSpec, needed_side, similarity_matrix
from .features.hashes import hash_detail
from .query import (
    MIRROR_OF, ImageSource, QueryFeatures, QueryImage, complete_features, load_query, pixel_digest_of, query_features,
    tells_apart,
)
from .query_parts import part_candidates, part_specs, part_vectors, with_part_evidence
from .features.regions import WINDOWS, describe_region
from .records import Comparison, ImageRecord, Match
from .runtime import Runtime
from .rerank import KEYPOINTS_STAGE, get_rerankers
from .scoring import (
    BACKGROUND_RANKS, FAR_LEVEL, NEAR_LEVEL, background_level, family_levels, fuse, hash_evidence,
    normalised, pair_hash_weight, tier_of, verdict_of,
)
from .settings import Settings
from .stats import SearchStats, timed
from .store import Store
from .threads import single_threaded_blas

MIN_CANDIDATES = 32


@dataclass
class Judged:
    """What judging a query's matches needs besides its features: how informative its hashes
    are, its background in the collection (None: not estimated) and, computed on first need
    (a full decode of a large JPEG), its pixel digest."""

    query: QueryImage
    settings: Settings
    hash_detail: float
    background: float | None = None

    @classmethod
    def of(cls, query: QueryImage, settings: Settings) -> "Judged":
        return cls(query, settings, hash_detail(query.image))

    @cached_property
    def digest(self) -> str | None:
        return pixel_digest_of(self.query, self.settings)

    def same_pixels(self, record: ImageRecord) -> bool:
        """Whether the stored image has the query's decoded pixels (upright)."""
        if record.pixel_digest is None or (record.width, record.height) != self.query.size:
            return False
        return self.digest == record.pixel_digest

    def exact(self, record: ImageRecord, sha256: str, upright: bool) -> bool:
        return record.sha256 == sha256 or (upright and self.same_pixels(record))


def search(
    store: Store, source: ImageSource, k: int = 10, min_score: float = 0.0, rerank: Sequence[str] | None = None,
    stats: SearchStats | None = None,
) -> list[Match]:
    """The k best matches for an image file or its bytes, best first. `rerank` names
    second-stage re-rankers (default: `Settings.rerank`) run on the candidate list.
    `stats`: filled with the time each stage took and the candidates (`lookalike.stats`)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    with single_threaded_blas():
        return _search(store, source, k, min_score, rerank, stats)


def _search(store: Store, source: ImageSource, k: int, min_score: float, rerank: Sequence[str] | None,
            stats: SearchStats | None) -> list[Match]:
    stages = get_rerankers(store.settings.rerank if rerank is None else rerank, store.runtime)
    side = max([needed_side(store.specs), *(stage.query_min_side for stage in stages)])
    with timed(stats, "decode"):
        query = load_query(source, store.settings, side)
    for stage in stages:
        stage.prepare(store, query)
    with timed(stats, "features"):
        upright = query_features(query, store.specs, store.runtime, turn_costly=store.settings.turn_queries == "always")
    with timed(stats, "candidates"):
        ids = _candidates(store, upright, k)
    with timed(stats, "scoring"):
        raw = _similarities(store, upright, ids)
    features, turned = upright, not _settled(store, upright, raw, ids)
    if turned:
        with timed(stats, "features"):
            features = complete_features(query, upright, store.specs, store.runtime)
        with timed(stats, "candidates"):
            turned_ids = _candidates(store, features, k, searched=upright)
        ids = sorted(set(ids) | set(turned_ids))
        with timed(stats, "scoring"):
            raw = _similarities(store, features, ids)
    if stats is not None:
        _count(stats, features, ids, turned)
    if not ids:
        return []
    with timed(stats, "scoring"):
        judged = Judged.of(query, store.settings)
        judged.background = _background_in(store, judged, features)
        matches = _scored(store, judged, features, ids, raw)
        if any(stage.wants_parts(matches) for stage in stages) and part_specs(store):
            matches = _with_parts(store, judged, features, matches)
    with timed(stats, "rerank"):
        for stage in stages:
            matches = stage.rerank(store, query, matches)
    return [m for m in best_frame_per_video(matches)[:k] if m.score >= min_score]


def best_frame_per_video(matches: Sequence[Match]) -> list[Match]:
    """The matches (best first) with each video once, at its best-scoring frame: a picture
    taken from a video finds the video and the time it shows, not every frame around it."""
    seen: set[int] = set()
    kept = []
    for match in matches:
        video = match.image.video_id
        if video is not None:
            if video in seen:
                continue
            seen.add(video)
        kept.append(match)
    return kept


def _count(stats: SearchStats, features: QueryFeatures, ids: list[int], turned: bool) -> None:
    stats.searches += 1
    stats.turned += turned
    stats.candidates += len(ids)
    stats.features = features


def _with_parts(store: Store, judged: Judged, features: QueryFeatures, matches: list[Match]) -> list[Match]:
    """The matches plus the candidates the query's windows propose, all with part evidence
    (see `lookalike.query_parts`), best first."""
    vectors = part_vectors(judged.query, store.runtime)
    extra = part_candidates(store, vectors) - {match.image.id for match in matches}
    if extra:
        matches = sorted(matches + _scored(store, judged, features, sorted(extra)), key=lambda m: -m.score)
    return with_part_evidence(store, vectors, matches)


SURE_MARGIN = 0.05  # above the near-duplicate threshold: a sure copy
# Mean calibrated hash evidence at which the hashes alone vouch for a turned copy. Copies the
# hashes see (recompressed, downscaled, turned) score 0.91-1.0 on the speed benchmark's
# queries; chance matches in some turned orientation among 100k stored images reach ~0.78.
TURNED_COPY_HASH_EVIDENCE = 0.85


def _settled(store: Store, features: QueryFeatures, raw: dict[str, np.ndarray], ids: list[int]) -> bool:
    """Whether a search with the CNN features of the upright query only is already the
    answer: its best candidate is a sure copy, and no candidate's hashes match one of the
    orientations the CNN has not seen (a turned copy in the collection) as a copy."""
    if not features.upright_rows:
        return True
    if not ids or fuse(store.specs, raw).max() < store.settings.min_near_duplicate_score + SURE_MARGIN:
        return False
    # an orientation some CNN feature has not seen (the copy descriptor sees no mirror image
    # upright, where the mirror-invariant embedding does)
    seen = set.intersection(*(set(rows) for rows in features.upright_rows.values()))
    unseen = np.setdiff1d(np.arange(len(features.orientations)), np.asarray(sorted(seen), dtype=np.int64))
    evidence = hash_evidence(store.specs, {name: values[unseen] for name, values in raw.items()})
    return evidence is None or not unseen.size or not (evidence >= TURNED_COPY_HASH_EVIDENCE).any()


def _similarities(store: Store, features: QueryFeatures, ids: list[int]) -> dict[str, np.ndarray]:
    """Raw similarity of each query orientation to each candidate, per feature:
    (orientations, candidates) arrays."""
    return {spec.name: similarity_matrix(spec, features.vectors[spec.name], store.vectors(spec.name, ids))
            for spec in store.specs}


def _fused(store: Store, judged: Judged, ids: list[int], raw: dict[str, np.ndarray],
           records: dict[int, ImageRecord] | None = None) -> np.ndarray:
    """Fused scores (orientations, candidates), the hashes weighted by how informative they
    are on the query and on each candidate."""
    records = store.images(ids) if records is None else records
    return fuse(store.specs, raw, _hash_weights(judged, ids, records))


def _hash_weights(judged: Judged, ids: list[int], records: dict[int, ImageRecord]) -> np.ndarray:
    return pair_hash_weight(judged.hash_detail, [records[i].hash_detail for i in ids])


# A match is reported in a turned orientation (and scored there) only when the features that
# tell that turn from upright vouch for it, TURN_MARGIN above where they stand upright: fused,
# at a copy's score (`min_near_duplicate_score`), or one family of them (the hashes, the copy
# descriptor with its windows, the embedding for rotations) at a copy's level (scoring's
# NEAR_LEVEL: a mirrored copy's hashes jump from chance to 1 while the copy descriptor, which
# half-recognises a mirror image, barely moves). A mirror image of a rotation must in the
# same way beat the rotation itself. Elsewhere a turned orientation's lead is chance: the
# hashes of a crop or a framed copy sit near 0.5 in every orientation, and one of them always
# scores a little higher. Measured on the demo's photos with 60 edits: turned and mirrored
# copies (whole, cropped, framed) rise by 0.18-0.65 (0.04-0.06 for whole mirror images,
# whose hashes rise by 0.5-0.7); crops, frames and look-alikes by at most 0.08 where they
# reach a copy's score and 0.17 below it (0.22 for one family, never to NEAR_LEVEL).
TURN_MARGIN = 0.1


def _reported_rows(specs: Sequence[FeatureSpec], features: QueryFeatures, raw: dict[str, np.ndarray],
                   scores: np.ndarray, hash_weights: np.ndarray, min_near_duplicate: float) -> np.ndarray:
    """Each candidate's orientation (a row of `scores`, orientations x candidates): its best
    one where the turn is evident (`_turn_evident`), else the rotation it mirrors (a mirror
    image whose mirroring is not evident), else upright."""
    names = features.orientations
    rows = scores.argmax(axis=0)
    for unmirrored in (lambda name: MIRROR_OF.get(name, name), lambda name: "original"):
        for row in np.unique(rows[rows > 0]):
            reference = names.index(unmirrored(names[row]))
            if reference == row:
                continue
            columns = np.flatnonzero(rows == row)
            evident = _turn_evident(specs, features, {name: values[:, columns] for name, values in raw.items()},
                                    (reference, int(row)), hash_weights[columns], min_near_duplicate)
            rows[columns[~evident]] = reference
    return rows


def _turn_evident(specs: Sequence[FeatureSpec], features: QueryFeatures, raw: dict[str, np.ndarray],
                  rows: tuple[int, int], hash_weights: np.ndarray, min_near_duplicate: float) -> np.ndarray:
    """Per candidate (a column of `raw`): whether the features that tell the second
    orientation of `rows` from the first call it a copy there and not in the first (see
    TURN_MARGIN)."""
    first, second = (features.orientations[row] for row in rows)
    telling = [spec for spec in specs if tells_apart(spec, second, first)
               and set(rows) <= set(features.computed_rows(spec.name).tolist())]
    if not telling:
        return np.zeros(len(hash_weights), dtype=bool)
    pair = {spec.name: raw[spec.name][list(rows)] for spec in telling}
    before, after = fuse(telling, pair, hash_weights)
    evident = (after >= min_near_duplicate) & (after - before >= TURN_MARGIN)
    for family, (before, after) in family_levels(telling, pair).items():
        if family == "hash":  # as far as the hashes inform on both images (scoring.hash_weight)
            before, after = (hash_weights * level + (1 - hash_weights) * FAR_LEVEL for level in (before, after))
        evident |= (after >= NEAR_LEVEL) & (after - before >= TURN_MARGIN)
    return evident


def _scored(store: Store, judged: Judged, features: QueryFeatures, ids: list[int],
            raw: dict[str, np.ndarray] | None = None) -> list[Match]:
    """Every candidate scored on every feature in its best orientation, against the query's
    background, best first; the orientation reported is that one only where the features
    that see the turn vouch for it (`_reported_rows`), else upright (or the rotation a
    mirror image stands for): a crop's chance lead in a turned orientation moves neither
    its score nor its rank, only the words."""
    raw = _similarities(store, features, ids) if raw is None else raw
    records = store.images(ids)
    weights = _hash_weights(judged, ids, records)
    scores = fuse(store.specs, raw, weights)  # (orientations, candidates)
    best_rows = scores.argmax(axis=0)
    reported = _reported_rows(store.specs, features, raw, scores, weights, store.settings.min_near_duplicate_score)
    best_score = normalised(scores.max(axis=0), judged.background)
    matches = []
    for column in np.argsort(-best_score, kind="stable"):
        row = int(best_rows[column])
        evidence = {name: float(values[row, column]) for name, values in raw.items()}
        record = records[ids[column]]
        score = float(best_score[column])
        exact = judged.exact(record, features.sha256, upright=row == 0)
        tier = tier_of(score, exact, store.settings.min_near_duplicate_score)
        matches.append(Match(record, score, tier, features.orientations[int(reported[column])], evidence,
                             explanation=_explanation(store.specs, evidence, judged.background,
                                                      float(scores[row, column]))))
    return matches


def _explanation(specs: Sequence[FeatureSpec], evidence: dict[str, float], background: float | None,
                 fused: float) -> dict[str, object] | None:
    """The best region (see `_best_region`) and, when the background moved the score, by how much."""
    found = dict(_best_region(specs, evidence) or {})
    if background is not None and normalised(fused, background) != fused:
        found["background"] = {"level": round(background, 4), "fused": round(fused, 4),
                               "reason": f"this collection's unrelated images score {background:.2f} against "
                                         "the query: the score is judged against that"}
    return found or None


def _best_region(specs: Sequence[FeatureSpec], evidence: dict[str, float]) -> dict[str, object] | None:
    """Which stored window the query resembles most, when the store has regional embeddings
    and one of them beats the whole image's embedding."""
    regions = [spec for spec in specs if spec.family == "region"]
    if not regions:
        return None
    best = max(regions, key=lambda spec: evidence[spec.name])
    whole = evidence.get(str(best.query_with), 0.0)
    if evidence[best.name] <= whole:
        return None
    left, top, right, bottom = WINDOWS[best.name.rsplit("_region_", 1)[-1]]
    return {"region": {"feature": best.name, "window": [left, top, right, bottom],
                       "similarity": round(evidence[best.name], 4), "whole_image": round(whole, 4),
                       "reason": f"the query resembles the {describe_region(best)} of the stored image "
                                 f"({evidence[best.name]:.2f}) more than the whole image ({whole:.2f})"}}


def compare(
    settings: Settings, runtime: Runtime, first: ImageSource, second: ImageSource, specs: Sequence[FeatureSpec], *,
    keypoints: bool = True, store: Store | None = None,
) -> Comparison:
    """Score two images against each other (the first in all orientations) with a verdict,
    with `runtime`'s extractors. With `store` (a collection the two are judged in), the
    score is set against the first image's background there, as search does.

    With `keypoints` (and OpenCV), the keypoint stage re-judges the pair
    (`Reranker.compare`: a verified copy is "same", another photograph of the same thing
    "same-object", a refuted one "different"). A learned feature with a probability head
    adds `probability` (P(same) from its similarity)."""
    stages = get_rerankers([KEYPOINTS_STAGE], runtime) if keypoints and _has_opencv() else []
    side = max([needed_side(specs), *(stage.query_min_side for stage in stages)])
    first_image, second_image = load_query(first, settings, side), load_query(second, settings, side)
    query = query_features(first_image, specs, runtime)
    other = query_features(second_image, specs, runtime, all_orientations=False)
    # the second image stands where a stored one would: its windows are its own, not borrowed
    for spec in specs:
        if spec.query_with is not None:
            other.vectors[spec.name] = runtime.extractor(spec.name).extract_batch([second_image.image])
    raw = {spec.name: similarity_matrix(spec, query.vectors[spec.name], other.vectors[spec.name])[:, 0]
           for spec in specs}
    judged = Judged.of(first_image, settings)
    if store is not None:
        judged.background = _background_in(store, judged, query)
    weights = pair_hash_weight(judged.hash_detail, [hash_detail(second_image.image)])
    scores = fuse(specs, raw, weights)
    row = int(scores.argmax())
    reported = int(_reported_rows(specs, query, {name: values[:, None] for name, values in raw.items()},
                                  scores[:, None], weights, settings.min_near_duplicate_score)[0])
    score = float(normalised(scores[row], judged.background))
    evidence = {name: float(values[row]) for name, values in raw.items()}
    exact = query.sha256 == other.sha256 or (
        row == 0 and first_image.size == second_image.size
        and judged.digest == pixel_digest_of(second_image, settings))
    tier = tier_of(score, exact, settings.min_near_duplicate_score)
    threshold = settings.min_same_score
    verdict = verdict_of(score, tier, threshold)
    result = Comparison(score, verdict, tier, threshold, query.orientations[reported], evidence,
                        probability=_probability(specs, evidence, runtime))
    for stage in stages:
        result = stage.compare(first_image.image, second_image.image, result, settings)
    return result


def _background_in(store: Store, judged: Judged, features: QueryFeatures) -> float | None:
    """The query's background in `store` (`scoring.background_level`): the fused scores of
    the upright query against its BACKGROUND_RANKS[1] nearest neighbours by the embedding (by
    the first candidate index without one). The same neighbours whether or not the search
    turns the query, and the same for search and compare."""
    names = [spec.name for spec in store.specs if spec.family == "embedding"] or store.candidate_features()
    _, found = store.search_candidates(names[0], features.vectors[names[0]][:1], BACKGROUND_RANKS[1])
    ids = sorted({int(i) for i in found.ravel() if i >= 0})
    if not ids:
        return None
    raw = {spec.name: similarity_matrix(spec, features.vectors[spec.name][:1], store.vectors(spec.name, ids))
           for spec in store.specs}
    return background_level(_fused(store, judged, ids, raw)[0])


def _probability(specs: Sequence[FeatureSpec], evidence: dict[str, float], runtime: Runtime) -> float | None:
    """P(same) from the first learned feature that is calibrated for it."""
    for spec in specs:
        if spec.source is None:
            continue
        found = runtime.extractor(spec.name).probability(np.asarray([evidence[spec.name]]))
        if found is not None:
            return float(np.asarray(found).ravel()[0])
    return None


def _has_opencv() -> bool:
    import importlib.util

    return importlib.util.find_spec("cv2") is not None


def _candidates(store: Store, features: QueryFeatures, k: int, searched: QueryFeatures | None = None) -> list[int]:
    """Union of each candidate index's nearest neighbours (`candidates_per_index`; regional
    embeddings propose candidates too: a crop may match nothing else), all re-scored
    exactly next. Only the query's computed rows search; with `searched` (the features an
    earlier round searched with), only the rows that round did not have."""
    found: set[int] = set()
    names = store.candidate_features()
    names += [spec.name for spec in store.specs if spec.family == "region" and spec.name not in names]
    specs = {spec.name: spec for spec in store.specs}
    with_embedding = any(specs[name].family in ("embedding", "copy") for name in names)
    for name in names:
        rows = features.computed_rows(name)
        if searched is not None:
            rows = np.setdiff1d(rows, searched.computed_rows(name))
        if not rows.size:
            continue
        count = candidates_per_index(specs[name], k, with_embedding)
        similarities, ids = store.search_candidates(name, _distinct_rows(features.vectors[name][rows]), count)
        found.update(_nearest_over_orientations(similarities, ids, count))
    return sorted(found)


def candidates_per_index(spec: FeatureSpec, k: int, with_embedding: bool = True) -> int:
    """How many candidates a feature's index proposes for a k-result search. Beside an
    embedding, a hash index is there to find copies, a few bits apart, which lead its list:
    k of them. An embedding orders look-alikes too, approximately above 50k images, and
    without one the hashes must give a re-ranking stage (texture) enough look-alikes: four
    times as many. (Forty from each of four hash indexes beside the embedding made ~200
    candidates, reading them ~20 ms of a query at 100k.)"""
    if spec.family == "hash" and with_embedding:
        return k
    return max(4 * k, MIN_CANDIDATES)


def _distinct_rows(vectors: np.ndarray) -> np.ndarray:
    """The rows without repeats (a mirror-invariant feature repeats its vectors), in order."""
    first = {row.tobytes(): index for index, row in reversed(list(enumerate(vectors)))}
    return vectors[sorted(first.values())]


def _nearest_over_orientations(similarities: np.ndarray, ids: np.ndarray, count: int) -> list[int]:
    """The `count` ids nearest to the query in whichever orientation suits each best.

    Each orientation has its own nearest neighbours, but only a turned copy is near in a
    turned orientation: keeping every orientation's list would re-score up to eight times
    as many candidates, almost all of them strangers."""
    best: dict[int, float] = {}
    for similarity, found in zip(similarities.ravel().tolist(), ids.ravel().tolist()):
        if found >= 0 and similarity > best.get(found, -np.inf):
            best[found] = similarity
    return sorted(best, key=lambda i: -best[i])[:count]


"""search(query) -> ranked, tier-labelled matches; compare(a, b) -> score and verdict.

Search is two stages: candidates from the hash and embedding indexes (each queried with
the query in all eight orientations), then every candidate re-scored exactly on every
feature and fused (`lookalike.scoring`), keeping each candidate's best orientation.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .features.base import FeatureSpec, needed_side, similarity_matrix
from .query import ImageSource, QueryFeatures, load_query, query_features
from .records import Comparison, Match
from .rerank import get_rerankers
from .scoring import fuse, is_visually_identical, tier_of
from .settings import Settings
from .store import Store

MIN_CANDIDATES = 32


def search(
    store: Store, source: ImageSource, k: int = 10, min_score: float = 0.0, rerank: Sequence[str] | None = None
) -> list[Match]:
    """The k best matches for an image file or its bytes, best first. `rerank` names
    second-stage re-rankers (default: `Settings.rerank`) run on the candidate list."""
    if k < 1:
        raise ValueError("k must be at least 1")
    stages = get_rerankers(store.settings.rerank if rerank is None else rerank)
    query = load_query(source, store.settings, needed_side(store.specs))
    features = query_features(query, store.specs)
    ids = _candidates(store, features, max(4 * k, MIN_CANDIDATES))
    if not ids:
        return []
    matches = _scored(store, features, ids)
    for stage in stages:
        matches = stage.rerank(store, query, matches)
    return [m for m in matches[:k] if m.score >= min_score]


def _scored(store: Store, features: QueryFeatures, ids: list[int]) -> list[Match]:
    """Every candidate scored on every feature in its best orientation, best first."""
    raw = {spec.name: similarity_matrix(spec, features.vectors[spec.name], store.vectors(spec.name, ids))
           for spec in store.specs}
    scores = fuse(store.specs, raw)  # (orientations, candidates)
    best_orientation = scores.argmax(axis=0)
    best_score = scores.max(axis=0)
    records = store.images(ids)
    matches = []
    for column in np.argsort(-best_score, kind="stable"):
        row = int(best_orientation[column])
        evidence = {name: float(values[row, column]) for name, values in raw.items()}
        record = records[ids[column]]
        tier = tier_of(
            float(best_score[column]),
            same_file=record.sha256 == features.sha256,
            identical=row == 0 and is_visually_identical(store.specs, evidence),
            min_near_duplicate=store.settings.min_near_duplicate_score,
        )
        matches.append(Match(record, float(best_score[column]), tier, features.orientations[row], evidence))
    return matches


def compare(settings: Settings, first: ImageSource, second: ImageSource, specs: Sequence[FeatureSpec]) -> Comparison:
    """Score two images against each other (the first in all orientations) with a verdict."""
    side = needed_side(specs)
    query = query_features(load_query(first, settings, side), specs)
    other = query_features(load_query(second, settings, side), specs, all_orientations=False)
    raw = {spec.name: similarity_matrix(spec, query.vectors[spec.name], other.vectors[spec.name])[:, 0]
           for spec in specs}
    scores = fuse(specs, raw)
    row = int(scores.argmax())
    score = float(scores[row])
    evidence = {name: float(values[row]) for name, values in raw.items()}
    tier = tier_of(
        score,
        same_file=query.sha256 == other.sha256,
        identical=row == 0 and is_visually_identical(specs, evidence),
        min_near_duplicate=settings.min_near_duplicate_score,
    )
    threshold = settings.min_same_score
    verdict = "same" if score >= threshold or tier == "exact" else "different"
    return Comparison(score, verdict, tier, threshold, query.orientations[row], evidence)


def _candidates(store: Store, features: QueryFeatures, per_index: int) -> list[int]:
    """Union of each candidate index's nearest neighbours over all orientations."""
    found: set[int] = set()
    for name in store.candidate_features():
        _, ids = store.search_vectors(name, features.vectors[name], per_index)
        found.update(int(i) for i in ids.ravel() if i >= 0)
    return sorted(found)


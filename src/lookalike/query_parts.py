"""Parts of a query: finding a stored picture that makes up only part of the query (pasted
into another photo, framed in a collage, on a screen in a snapshot).

The whole query's features describe mostly what surrounds the picture, so the stored one
ranks nowhere. Here each window of the query (the regional embeddings' `WINDOWS`: four
corners and the centre, 60% of the width and height) is embedded with the base CNN and
searched in the embedding's index and in the region indexes (a part of the query may hold
only part of the stored picture). The candidates the windows propose join the first
stage's, and every match gets `PART_EVIDENCE`: the best similarity between a window of the
query and the stored image, whole or one of its windows.

The windows only propose: the fused score ignores them, and a re-ranking stage that can
verify a partial copy (keypoints: `Reranker.wants_parts`) asks for them and decides. They
cost five more CNN passes and index searches, spent only when such a stage asks, that is
when the first stage found no sure copy.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .features.base import FeatureSpec, similarity_matrix
from .features.regions import BASE, WINDOWS, window

if TYPE_CHECKING:
    from .query import QueryImage
    from .records import Match
    from .runtime import Runtime
    from .store import Store

PART_EVIDENCE = "query_part"
PER_PART = 8  # nearest neighbours each window takes from each index


def part_specs(store: "Store") -> list[FeatureSpec]:
    """The store's features a window of the query is compared with: the base embedding and
    the regional embeddings searched with it."""
    return [spec for spec in store.specs if spec.name == BASE.name or spec.query_with == BASE.name]


def part_vectors(query: "QueryImage", runtime: "Runtime") -> np.ndarray:
    """The base embedding of each window of the query, one row per window."""
    return runtime.extractor(BASE.name).extract_batch([window(query.image, box) for box in WINDOWS.values()])


def part_candidates(store: "Store", vectors: np.ndarray, per_part: int = PER_PART) -> set[int]:
    """Images whose whole or windows are nearest to a window of the query."""
    found: set[int] = set()
    for spec in part_specs(store):
        _, ids = store.search_vectors(spec.name, vectors, per_part)
        found.update(int(i) for i in ids.ravel() if i >= 0)
    return found


def with_part_evidence(store: "Store", vectors: np.ndarray, matches: Sequence["Match"]) -> list["Match"]:
    """The matches, each with PART_EVIDENCE: its best similarity to any window of the query."""
    if not matches:
        return []
    ids = [match.image.id for match in matches]
    best = np.zeros(len(ids))
    for spec in part_specs(store):
        best = np.maximum(best, similarity_matrix(spec, vectors, store.vectors(spec.name, ids)).max(axis=0))
    return [replace(match, evidence={**match.evidence, PART_EVIDENCE: float(value)})
            for match, value in zip(matches, best)]

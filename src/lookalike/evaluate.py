"""How well does the collection's notion of "the same" match the user's labels?

Every labelled image is a query against all the others, scored exactly as search scores
them (fused features; stored vectors, so no re-decoding), in blocks so memory stays at
block x n. Ranking metrics count images with the query's label as relevant; the verdict
metrics sweep the same/different threshold over image pairs (every pair in small
collections, all positive pairs plus a uniform sample of negative ones in large ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import LookalikeError
from .ranking_metrics import RankingScores, ThresholdCurve, ranking_scores, threshold_curve
from .features.base import similarity_matrix
from .scoring import fuse
from .records import ImageRecord
from .store import Store

BLOCK = 256
MAX_NEGATIVE_PAIRS = 2_000_000


@dataclass
class Example:
    query: ImageRecord
    results: list[tuple[ImageRecord, float, bool]]  # (image, score, same label as the query)


@dataclass
class EvaluationReport:
    images: int
    labels: int
    ranking: RankingScores
    curve: ThresholdCurve
    thresholds: dict[str, float]  # the collection's current ones
    examples: list[Example] = field(default_factory=list)

    def at_threshold(self, threshold: float) -> tuple[float, float]:
        """(precision, recall) of the verdict "same if score >= threshold"."""
        index = np.searchsorted(-self.curve.thresholds, -threshold, side="right") - 1
        if index < 0:
            return 1.0, 0.0
        return float(self.curve.precision[index]), float(self.curve.recall[index])

    def to_dict(self) -> dict[str, Any]:
        best = self.curve.best_f1()
        return {
            "images": self.images,
            "labels": self.labels,
            "queries": self.ranking.queries,
            "map": self.ranking.map,
            "map_at_10": self.ranking.map_at_10,
            "precision_at": self.ranking.precision_at,
            "recall_at": self.ranking.recall_at,
            "best_f1": dict(zip(("threshold", "precision", "recall", "f1"), best)),
            "thresholds": {
                name: dict(zip(("threshold", "precision", "recall"), (value, *self.at_threshold(value))))
                for name, value in self.thresholds.items()
            },
            "curve": {
                "threshold": self.curve.thresholds.round(5).tolist(),
                "precision": self.curve.precision.round(5).tolist(),
                "recall": self.curve.recall.round(5).tolist(),
            },
        }


def evaluate_store(store: Store, examples: int = 6, seed: int = 0) -> EvaluationReport:
    """Evaluate a store whose images carry labels (index with --label-from)."""
    ids, labels = _labelled_images(store)
    vectors = {spec.name: store.vectors(spec.name, ids) for spec in store.specs}
    rng = np.random.default_rng(seed)
    total_negatives = _count_pairs(labels)[1]
    keep_negative = min(1.0, MAX_NEGATIVE_PAIRS / max(total_negatives, 1))
    rankings: list[np.ndarray] = []
    totals: list[int] = []
    pair_scores: list[np.ndarray] = []
    pair_same: list[np.ndarray] = []
    example_rows = _example_rows(labels, examples)
    found_examples: list[tuple[int, list[tuple[int, float, bool]]]] = []
    for start in range(0, len(ids), BLOCK):
        rows = np.arange(start, min(start + BLOCK, len(ids)))
        raw = {s.name: similarity_matrix(s, vectors[s.name][rows], vectors[s.name]) for s in store.specs}
        scores = fuse(store.specs, raw)
        for offset, row in enumerate(rows):
            same = labels == labels[row]
            order = np.argsort(-scores[offset], kind="stable")
            order = order[order != row]
            if same.sum() > 1:
                rankings.append(same[order])
                totals.append(int(same.sum()) - 1)
            later = np.arange(row + 1, len(ids))
            sampled = later[same[later] | (rng.random(len(later)) < keep_negative)]
            pair_scores.append(scores[offset, sampled])
            pair_same.append(same[sampled])
            if row in example_rows:
                found_examples.append((row, [(int(j), float(scores[offset, j]), bool(same[j])) for j in order[:5]]))
    if not rankings:
        raise LookalikeError("no label has two images: nothing to find")
    curve = threshold_curve(np.concatenate(pair_scores), np.concatenate(pair_same), 1.0 / keep_negative)
    return EvaluationReport(
        images=len(ids),
        labels=len(set(labels.tolist())),
        ranking=ranking_scores(rankings, totals),
        curve=curve,
        thresholds={
            "near-duplicate": store.settings.min_near_duplicate_score,
            "same (compare)": store.settings.min_same_score,
        },
        examples=_with_records(store, ids, found_examples),
    )


def _with_records(store: Store, ids: list[int], found: list[tuple[int, list[tuple[int, float, bool]]]]) -> list[Example]:
    wanted = {ids[row] for row, results in found} | {ids[j] for _, results in found for j, _, _ in results}
    records = store.images(sorted(wanted))
    return [Example(records[ids[row]], [(records[ids[j]], score, same) for j, score, same in results])
            for row, results in found]


def _example_rows(labels: np.ndarray, count: int) -> set[int]:
    """Queries spread evenly over the collection, preferring those with something to find."""
    _, inverse, counts = np.unique(labels.astype(str), return_inverse=True, return_counts=True)
    findable = np.flatnonzero(counts[inverse] > 1)
    pool = findable if len(findable) >= count else np.arange(len(labels))
    if count == 0 or len(pool) == 0:
        return set()
    return set(pool[np.linspace(0, len(pool) - 1, min(count, len(pool)), dtype=int)].tolist())


def _labelled_images(store: Store) -> tuple[list[int], np.ndarray]:
    ids = store.image_ids()
    records = store.images(ids)
    labelled = [i for i in ids if records[i].label]
    if len(labelled) < 2:
        raise LookalikeError(
            "evaluation needs labelled images: index a folder with --label-from prefix|folder"
        )
    return labelled, np.array([records[i].label for i in labelled], dtype=object)


def _count_pairs(labels: np.ndarray) -> tuple[int, int]:
    """(same-label pairs, different-label pairs)."""
    _, counts = np.unique(labels.astype(str), return_counts=True)
    same = int((counts * (counts - 1) // 2).sum())
    return same, len(labels) * (len(labels) - 1) // 2 - same

"""Retrieval and verification metrics, computed from ranked results and scored pairs.

Pure functions over numpy arrays, shared by `lookalike evaluate` and the benchmarks so
that both report the same numbers the same way:
- ranking quality: average precision (mAP over queries), precision@k, recall@k;
- verification quality (same/different at a threshold): the precision-recall curve over
  every threshold and the threshold with the best F1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def average_precision(relevant: Sequence[bool], total_relevant: int, at: int | None = None) -> float:
    """AP of one ranked list. `relevant[i]`: is the i-th result relevant; `total_relevant`:
    how many relevant items exist (those never retrieved count as misses). With `at`, AP@k
    normalised by min(k, total_relevant), as in the usual mAP@k."""
    hits = np.asarray(relevant, dtype=bool)[:at]
    if total_relevant <= 0:
        return 0.0
    ranks = np.flatnonzero(hits) + 1
    precisions = np.arange(1, len(ranks) + 1) / ranks
    denominator = min(at, total_relevant) if at else total_relevant
    return float(precisions.sum() / denominator)


def precision_at(relevant: Sequence[bool], k: int) -> float:
    return float(np.asarray(relevant, dtype=bool)[:k].sum() / k)


def recall_at(relevant: Sequence[bool], total_relevant: int, k: int) -> float:
    if total_relevant <= 0:
        return 0.0
    return float(np.asarray(relevant, dtype=bool)[:k].sum() / total_relevant)


@dataclass(frozen=True)
class RankingScores:
    queries: int
    map: float
    map_at_10: float
    precision_at: dict[int, float]
    recall_at: dict[int, float]


def ranking_scores(
    rankings: Sequence[Sequence[bool]], totals: Sequence[int], ks: Sequence[int] = (1, 5, 10)
) -> RankingScores:
    """Mean metrics over queries. rankings[q][i]: is result i of query q relevant."""
    if not rankings:
        raise ValueError("no queries to score")
    return RankingScores(
        queries=len(rankings),
        map=float(np.mean([average_precision(r, t) for r, t in zip(rankings, totals)])),
        map_at_10=float(np.mean([average_precision(r, t, at=10) for r, t in zip(rankings, totals)])),
        precision_at={k: float(np.mean([precision_at(r, k) for r in rankings])) for k in ks},
        recall_at={k: float(np.mean([recall_at(r, t, k) for r, t in zip(rankings, totals)])) for k in ks},
    )


@dataclass(frozen=True)
class ThresholdCurve:
    """Precision and recall of "same if score >= threshold" at every distinct threshold."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @property
    def f1(self) -> np.ndarray:
        total = self.precision + self.recall
        return np.divide(2 * self.precision * self.recall, total, out=np.zeros_like(total), where=total > 0)

    def best_f1(self) -> tuple[float, float, float, float]:
        """(threshold, precision, recall, f1) at the best F1."""
        i = int(np.argmax(self.f1))
        return float(self.thresholds[i]), float(self.precision[i]), float(self.recall[i]), float(self.f1[i])

    def threshold_for_precision(self, target: float) -> float | None:
        """The lowest threshold whose precision reaches `target` (most recall), moved halfway
        down to the next observed score so that it does not sit on a labelled pair; None
        if no threshold reaches it."""
        reaching = np.flatnonzero(self.precision >= target)
        if not len(reaching):
            return None
        index = reaching[-1]
        if index + 1 < len(self.thresholds):
            return float((self.thresholds[index] + self.thresholds[index + 1]) / 2)
        return float(self.thresholds[index])


def threshold_curve(scores: Sequence[float], same: Sequence[bool], negative_weight: float = 1.0) -> ThresholdCurve:
    """Sweep the threshold over every observed score, highest first. `negative_weight`:
    how many real negative pairs each given one stands for, when negatives were sampled."""
    scores_array = np.asarray(scores, dtype=np.float64)
    same_array = np.asarray(same, dtype=bool)
    if not same_array.any():
        raise ValueError("need at least one positive pair")
    order = np.argsort(-scores_array, kind="stable")
    sorted_scores, sorted_same = scores_array[order], same_array[order]
    true_positives = np.cumsum(sorted_same)
    predicted = true_positives + negative_weight * np.cumsum(~sorted_same)
    last_of_each = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), len(sorted_scores) - 1]
    return ThresholdCurve(
        thresholds=sorted_scores[last_of_each],
        precision=true_positives[last_of_each] / predicted[last_of_each],
        recall=true_positives[last_of_each] / same_array.sum(),
    )

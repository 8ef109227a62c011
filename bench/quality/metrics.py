"""The quality benchmark's metrics, from each method's rankings of a task's queries (computed
by `lookalike.ranking_metrics`, the way `lookalike` computes them)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lookalike.ranking_metrics import ThresholdCurve, ranking_scores, threshold_curve

from ..peers import Ranking
from .suites import FASHION_DEPTH, Task


def hits(task: Task, rankings: list[Ranking]) -> list[list[bool]]:
    return [[pos in relevant for pos, _ in ranking] for ranking, relevant in zip(rankings, task.relevant)]


def by_group(task: Task, values: Sequence[float]) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for group, value in zip(task.groups, values):
        groups.setdefault(group, []).append(value)
    return {group: float(np.mean(group_values)) for group, group_values in groups.items()}


def near_duplicate_metrics(task: Task, rankings: list[Ranking], threshold: float | None) -> dict:
    found = hits(task, rankings)
    scores = ranking_scores(found, [1] * len(found), ks=(1, 10))
    curve = copy_curve(found, rankings)
    best_threshold, precision, recall, f1 = curve.best_f1()
    return {
        "recall_at_1_by_edit": by_group(task, [float(any(h[:1])) for h in found]),
        "map": scores.map,
        "recall_at_1": scores.recall_at[1],
        "recall_at_10": scores.recall_at[10],
        "best_f1": {"f1": f1, "threshold": best_threshold, "precision": precision, "recall": recall},
        "own_threshold": None if threshold is None else {"threshold": threshold, **operating_point(curve, threshold)},
        "curve": thinned_curve(curve),
    }


def thinned_curve(curve: ThresholdCurve, points: int = 300) -> dict[str, list[float]]:
    """The precision-recall curve at most `points` thresholds apart, for the plot and the JSON."""
    keep = np.unique(np.linspace(0, len(curve.thresholds) - 1, points).round().astype(int))
    return {name: getattr(curve, name)[keep].round(5).tolist() for name in ("thresholds", "precision", "recall")}


def copy_curve(found: list[list[bool]], rankings: list[Ranking]) -> ThresholdCurve:
    """Copy verification over the scored results: every (query, result) pair is a copy or
    not; a copy missing from the results can be found by no threshold (score -1)."""
    scores = [score for ranking in rankings for _, score in ranking]
    same = [hit for row in found for hit in row]
    missed = sum(1 for row in found if not any(row))
    return threshold_curve(scores + [-1.0] * missed, same + [True] * missed)


def operating_point(curve: ThresholdCurve, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of "copy if score >= threshold"."""
    at_or_above = np.flatnonzero(curve.thresholds >= threshold - 1e-9)
    if not len(at_or_above):
        return {"precision": 1.0, "recall": 0.0, "f1": 0.0}
    i = int(at_or_above[-1])
    return {"precision": float(curve.precision[i]), "recall": float(curve.recall[i]), "f1": float(curve.f1[i])}


def same_object_metrics(task: Task, rankings: list[Ranking]) -> dict:
    found = hits(task, rankings)
    scores = ranking_scores(found, [1] * len(found), ks=(1, 5, 10))
    ranks = [next((i + 1 for i, hit in enumerate(row) if hit), None) for row in found]
    return {
        "recall_at": {str(k): v for k, v in scores.recall_at.items()},
        "map": scores.map,
        "partner_rank": {f"{group}:{task.queries[i].name}": rank for i, (group, rank) in
                         enumerate(zip(task.groups, ranks))},
    }


def fashion_metrics(task: Task, rankings: list[Ranking]) -> dict:
    scores = ranking_scores(hits(task, rankings), [len(r) for r in task.relevant], ks=(FASHION_DEPTH,))
    return {"map_at_10": scores.map_at_10, "precision_at_10": scores.precision_at[FASHION_DEPTH]}


def texture_metrics(task: Task, rankings: list[Ranking]) -> dict:
    found = hits(task, rankings)
    totals = [len(r) for r in task.relevant]
    turned = [i for i, group in enumerate(task.groups) if group == "turned"]
    return {
        "map": ranking_scores(found, totals).map,
        "map_turned_queries": ranking_scores([found[i] for i in turned], [totals[i] for i in turned]).map,
        "precision_at_1": ranking_scores(found, totals, ks=(1,)).precision_at[1],
    }


def index_recall(reference: list[Ranking], approximate: list[Ranking], k: int) -> dict[str, float]:
    """How many of the exact top-k an approximate search returns (recall@1 and @k)."""
    at_k = [len({p for p, _ in a[:k]} & {p for p, _ in r[:k]}) / max(1, len(r[:k]))
            for r, a in zip(reference, approximate)]
    at_1 = [float(bool(a) and bool(r) and a[0][0] == r[0][0]) for r, a in zip(reference, approximate)]
    return {"recall_at_1": float(np.mean(at_1)), f"recall_at_{k}": float(np.mean(at_k))}

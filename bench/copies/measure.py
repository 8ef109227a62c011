"""The copy benchmark's numbers, from the systems' answers alone.

Pairs: each query with its source is a positive, each query with its best-ranked non-copy
(the hardest negative the system itself put forward) a negative. A system's verdict calls a
pair a copy or not; over the pairs:

- precision = copies called among positives / all pairs called copies, recall = positives
  called copies / positives; `false_copy_share` = queries whose best non-copy is called a copy;
- at the shipped threshold (lookalike: the tier; a descriptor: its `threshold`), and with the
  threshold moved: the best precision at recall >= MIN_RECALL, per gallery and with ONE
  threshold for all galleries (the pooled pairs), to see whether one threshold fits all.

A source lookalike did not return in its first `DEPTH` has no score: the positive is missed
at every threshold. A lookalike "exact" tier counts as a copy at every threshold.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import asdict
from typing import Any, Sequence

import numpy as np

from .galleries import GALLERY_NAMES, Gallery, build_gallery
from .systems import COPY_TIERS, Answer, DescriptorSystem, LookalikeSystem, System

MIN_RECALL = 0.95


def pair_scores(system: System, answers: Sequence[Answer]) -> tuple[np.ndarray, np.ndarray]:
    """The verdict scores of the positive and negative pairs (exact: +inf; no score: -inf)."""

    def score(value: float | None, tier: str | None) -> float:
        if tier == "exact":
            return math.inf
        return -math.inf if value is None else float(value)

    positives = np.array([score(a.source_score, a.source_tier) for a in answers])
    negatives = np.array([score(a.negative_score, a.negative_tier) for a in answers])
    return positives, negatives


def shipped_calls(system: System, answers: Sequence[Answer]) -> tuple[np.ndarray, np.ndarray]:
    """Each pair called a copy or not by the system as shipped."""
    if isinstance(system, LookalikeSystem):
        return (np.array([a.source_tier in COPY_TIERS for a in answers]),
                np.array([a.negative_tier in COPY_TIERS for a in answers]))
    positives, negatives = pair_scores(system, answers)
    return positives >= system.threshold, negatives >= system.threshold


def verdict(called_positives: np.ndarray, called_negatives: np.ndarray) -> dict[str, float | None]:
    true, false = int(called_positives.sum()), int(called_negatives.sum())
    return {"precision": round(true / (true + false), 4) if true + false else None,
            "recall": round(true / len(called_positives), 4) if len(called_positives) else None,
            "false_copy_share": round(false / len(called_negatives), 4) if len(called_negatives) else None}


def at_threshold(positives: np.ndarray, negatives: np.ndarray, threshold: float) -> dict[str, float | None]:
    return verdict(positives >= threshold, negatives >= threshold) | {"threshold": round(threshold, 4)}


def best_at_recall(positives: np.ndarray, negatives: np.ndarray, min_recall: float = MIN_RECALL) -> dict | None:
    """The threshold with the best precision among those keeping recall >= `min_recall`
    (the highest such threshold on ties); None when no threshold reaches that recall."""
    finite = positives[np.isfinite(positives)]
    best = None
    for threshold in sorted(set(finite.tolist()), reverse=True):
        numbers = at_threshold(positives, negatives, threshold)
        if numbers["recall"] is not None and numbers["recall"] >= min_recall:
            if best is None or (numbers["precision"] or 0) > (best["precision"] or 0):
                best = numbers
    return best


def best_f1_threshold(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The threshold with the best F1 over the pairs (for a descriptor without a threshold)."""
    def f1(threshold: float) -> float:
        true, false = np.sum(positives >= threshold), np.sum(negatives >= threshold)
        return 0.0 if true == 0 else 2 * true / (true + false + len(positives))

    candidates = sorted(set(positives[np.isfinite(positives)].tolist())) or [1.0]
    return max(candidates, key=f1)


def details(gallery: Gallery, answers: Sequence[Answer]) -> list[dict[str, Any]]:
    return [{"query": f"{gallery.sources[q.source].name}/{q.edit}", "edit": q.edit} | asdict(a)
            for q, a in zip(gallery.queries, answers)]


def gallery_metrics(system: System, gallery: Gallery, answers: Sequence[Answer], seconds: float) -> dict[str, Any]:
    edits: dict[str, list[float]] = {}
    for query, answer in zip(gallery.queries, answers):
        edits.setdefault(query.edit, []).append(float(answer.rank == 1))
    positives, negatives = pair_scores(system, answers)
    return {
        "queries": len(answers), "seconds": round(seconds, 1),
        "recall@1": round(statistics.mean(float(a.rank == 1) for a in answers), 4),
        "recall@1_by_edit": {edit: round(statistics.mean(hits), 4) for edit, hits in edits.items()},
        # A descriptor without a threshold gets its verdict once one is chosen over every gallery.
        "shipped": None if system.threshold is None and not isinstance(system, LookalikeSystem)
        else verdict(*shipped_calls(system, answers)),
        "at_recall": best_at_recall(positives, negatives),
        "details": details(gallery, answers),
    }


def shared_threshold(system: System, answers: dict[str, list[Answer]]) -> dict[str, Any]:
    """ONE threshold for all galleries: the best precision at recall >= MIN_RECALL over the
    pooled pairs, then each gallery's numbers at it."""
    scored = {name: pair_scores(system, a) for name, a in answers.items()}
    positives = np.concatenate([p for p, _ in scored.values()])
    negatives = np.concatenate([n for _, n in scored.values()])
    pooled = best_at_recall(positives, negatives)
    if pooled is None:
        return {"threshold": None, "pooled": None, "by_gallery": {}}
    return {"threshold": pooled["threshold"], "pooled": pooled,
            "by_gallery": {name: at_threshold(p, n, pooled["threshold"]) for name, (p, n) in scored.items()}}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(systems: Sequence[System], quick: bool, names: Sequence[str] = GALLERY_NAMES) -> dict[str, Any]:
    """Every gallery built in turn (one in memory at a time), answered by every system."""
    answers: dict[str, dict[str, list[Answer]]] = {s.name: {} for s in systems}
    results: dict[str, Any] = {"quick": quick, "galleries": [], "results": {s.name: {} for s in systems}}
    for name in names:
        started = time.perf_counter()
        gallery = build_gallery(name, quick)
        results["galleries"].append({"name": name, "description": gallery.description, "sources": len(gallery.sources),
                                     "distractors": len(gallery.distractors), "queries": len(gallery.queries)})
        log(f"copies: {name}: {len(gallery.sources)} sources, {len(gallery.distractors)} distractors, "
            f"{len(gallery.queries)} queries, built in {time.perf_counter() - started:.0f} s")
        for system in systems:
            started = time.perf_counter()
            answers[system.name][name] = system.answer(gallery)
            seconds = time.perf_counter() - started
            results["results"][system.name][name] = gallery_metrics(system, gallery, answers[system.name][name], seconds)
            log(f"copies: {name}: {system.name}: recall@1 {results['results'][system.name][name]['recall@1']:.3f} "
                f"in {seconds:.0f} s")
    results["systems"] = []
    for system in systems:
        origin = (f"tier exact or near-duplicate (fused score >= {system.shipped_score})"
                  if isinstance(system, LookalikeSystem) else getattr(system, "descriptor").threshold_origin)
        if isinstance(system, DescriptorSystem) and system.threshold is None:
            pooled = [pair_scores(system, a) for a in answers[system.name].values()]
            system.threshold = best_f1_threshold(np.concatenate([p for p, _ in pooled]),
                                                 np.concatenate([n for _, n in pooled]))
            origin = "chosen here: the best F1 over every gallery's pairs (optimistic)"
            for name, gallery_answers in answers[system.name].items():
                results["results"][system.name][name]["shipped"] = verdict(*shipped_calls(system, gallery_answers))
        results["systems"].append({"name": system.name, "description": system.description,
                                   "threshold": system.threshold, "threshold_origin": origin})
    results["shared_threshold"] = {s.name: shared_threshold(s, answers[s.name]) for s in systems}
    results["min_recall"] = MIN_RECALL
    return results

"""Held-out pictures to watch a copy descriptor learn: recall@1 of strongly edited copies
among the held-out originals (all alike in kind) and how far the copies' similarities stand
from the best non-copy's, from which the descriptor's `near` and `far` anchors are read
(`lookalike.scoring.calibrate`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from .sources import Source
from .views import WORK_SIDE, strong_view

HOLDOUT_EVERY = 10  # every tenth source picture is held out of training


def split(sources: Sequence[Source]) -> tuple[list[Source], list[Source]]:
    """(training sources, held-out sources): every HOLDOUT_EVERY-th one held out."""
    train = [source for i, source in enumerate(sources) if i % HOLDOUT_EVERY]
    held = [source for i, source in enumerate(sources) if not i % HOLDOUT_EVERY]
    return train, held


@dataclass(frozen=True)
class HeldOut:
    originals: list[Image.Image]
    copies: list[Image.Image]  # copies[i] is an edited copy of originals[i]


def held_out(sources: Sequence[Source], seed: int, copies_per_source: int = 1) -> HeldOut:
    rng = np.random.default_rng([seed, 1_000_003])
    originals, copies = [], []
    for source in sources:
        for _ in range(copies_per_source):
            picture = source.instance(rng)
            small = picture.copy()
            small.thumbnail((WORK_SIDE, WORK_SIDE))
            originals.append(small)
            copies.append(strong_view(picture, rng))
    return HeldOut(originals, copies)


def measure(describe: Callable[[Sequence[Image.Image]], np.ndarray], data: HeldOut) -> dict[str, Any]:
    """recall@1, the copies' similarity quantiles and the best non-copy's, and the verdict's
    precision and recall at the threshold halfway between."""
    gallery, queries = describe(data.originals), describe(data.copies)
    similarity = queries @ gallery.T
    n = len(queries)
    positive = similarity[np.arange(n), np.arange(n)]
    others = similarity.copy()
    others[np.arange(n), np.arange(n)] = -np.inf
    negative = others.max(axis=1)
    recall = float((positive > negative).mean())
    threshold = float((np.quantile(positive, 0.05) + np.quantile(negative, 0.99)) / 2)
    called = np.concatenate([positive, negative]) >= threshold
    truth = np.concatenate([np.ones(n, bool), np.zeros(n, bool)])
    precision = float((called & truth).sum() / max(1, called.sum()))
    return {"recall_at_1": round(recall, 4), "copies": n,
            "copy_similarity": _quantiles(positive), "best_non_copy_similarity": _quantiles(negative),
            "threshold": round(threshold, 4), "precision": round(precision, 4),
            "recall": round(float((called & truth).sum() / n), 4)}


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.quantile(values, q / 100)), 4) for q in (1, 5, 50, 95, 99)}

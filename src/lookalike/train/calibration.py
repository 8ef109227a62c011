"""What a model file declares about its feature, measured on held-out images, not assumed.

- near/far anchors (`FeatureSpec.near`/`far`, which `lookalike.scoring` maps to 0.8 and
  0.3): the median cosine of held-out positive pairs and of held-out negative pairs;
- a probability head: P(same) = sigmoid(scale * cosine + bias), a logistic regression on
  the same pairs, weighted so both kinds count equally (a prior of one half), which lets
  `compare` answer with a probability;
- invariance: which turns of an image leave its vector as close to the original as a
  copy must be. A feature that claims an invariance it lacks makes search skip the turned
  queries that would have found rotated copies, so the claim must be earned.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from PIL import Image

from ..query import MIRROR_OF, ORIENTATIONS, ROTATIONS
from .errors import NotEnoughData

MIN_ANCHOR_GAP = 0.02
NEAR_CAP = 0.999
# A turned image's vector counts as unchanged when even its 5th-percentile similarity to
# the upright one reaches this (or the near anchor, whichever is stricter).
INVARIANCE_SIMILARITY = 0.9
INVARIANCE_QUANTILE = 0.05
INVARIANCE_IMAGES = 32


def cosines(vectors: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Similarity of each pair of rows, as lookalike compares float features (clipped cosine)."""
    return _similarity(vectors[first], vectors[second])


def anchors(similarities: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(near, far): median similarity of positive pairs and of negative pairs."""
    if not same.any() or same.all():
        raise NotEnoughData("measuring the anchors needs held-out positive and negative pairs")
    near = float(min(np.median(similarities[same]), NEAR_CAP))
    far = float(np.median(similarities[~same]))
    if near - far < MIN_ANCHOR_GAP:  # a feature that cannot tell pairs apart: keep the scale sane
        far = max(0.0, near - MIN_ANCHOR_GAP)
    return round(near, 6), round(far, 6)


def fit_probability(similarities: np.ndarray, same: np.ndarray, iterations: int = 50,
                    ridge: float = 1e-4) -> dict[str, float]:
    """Balanced logistic regression of `same` on the similarity, by Newton's method (two
    parameters: no optimiser library needed). Returns {"scale", "bias", "prior"}."""
    x = np.stack([similarities.astype(np.float64), np.ones(len(similarities))], axis=1)
    y = same.astype(np.float64)
    positives = max(y.sum(), 1.0)
    weights = np.where(y > 0, 0.5 / positives, 0.5 / max(len(y) - positives, 1.0))
    theta = np.zeros(2)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(x @ theta)))
        gradient = x.T @ (weights * (p - y)) + ridge * theta
        hessian = (x * (weights * p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return {"scale": round(float(theta[0]), 6), "bias": round(float(theta[1]), 6), "prior": 0.5}


def probability(head: dict[str, float], similarities: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(head["scale"] * np.asarray(similarities) + head["bias"])))


Embed = Callable[[list[Image.Image]], np.ndarray]


def measure_invariance(embed: Embed, images: Sequence[Image.Image], near: float) -> tuple[str, dict[str, float]]:
    """("dihedral" | "mirror" | "none", the measured similarities) for a feature computed
    by `embed` (images -> L2-normalised rows).

    "mirror" means what `lookalike.query` relies on: each mirrored orientation's vector may
    stand in for the matching rotation's (see MIRROR_OF); "dihedral": every one of the
    eight orientations may stand in for the upright image."""
    images = list(images[:INVARIANCE_IMAGES])
    turned = {name: embed([image if op is None else image.transpose(op) for image in images])
              for name, op in ORIENTATIONS.items()}
    mirror = np.concatenate([_similarity(turned[m], turned[r]) for m, r in MIRROR_OF.items()])
    dihedral = np.concatenate([_similarity(turned["original"], turned[name]) for name in ORIENTATIONS
                               if name != "original"])
    rotations = np.concatenate([_similarity(turned["original"], turned[name]) for name in ROTATIONS[1:]])
    needed = max(INVARIANCE_SIMILARITY, near)
    measured = {
        "mirror": round(float(np.quantile(mirror, INVARIANCE_QUANTILE)), 4),
        "rotations": round(float(np.quantile(rotations, INVARIANCE_QUANTILE)), 4),
        "dihedral": round(float(np.quantile(dihedral, INVARIANCE_QUANTILE)), 4),
        "needed": round(needed, 4),
    }
    if measured["dihedral"] >= needed:
        return "dihedral", measured
    return ("mirror" if measured["mirror"] >= needed else "none"), measured


def _similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.clip(np.einsum("ij,ij->i", left.astype(np.float64), right.astype(np.float64)), 0.0, 1.0)

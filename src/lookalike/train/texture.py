"""`lookalike train texture`: fit the texture re-ranker's classifier on a collection's own
labels, measure what it changes, and store it with the collection.

The classifier is a multinomial logistic regression on the standardised stored `lbp`
vectors (rotation-invariant LBP histograms: the tea-cake seed's texture descriptor),
fitted with scipy's L-BFGS: no torch and no scikit-learn, so this command works on a
plain install. Before storing it, a held-out split (a share of each label's images) is
searched against the rest twice, with the first stage's fused scores and with the texture
stage applied exactly as `search --rerank texture` applies it, and both rankings are
scored with `lookalike.ranking_metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..ranking_metrics import ranking_scores
from ..features.base import similarity_matrix
from ..rerank.texture import (
    DEFAULT_MIN_SCORE,
    DEFAULT_WEIGHT,
    TextureClassifier,
    rescore_in_band,
    save_classifier,
)
from ..scoring import fuse
from ..store import Store
from .data import holdout_split
from .errors import NotEnoughData

FEATURE = "lbp"
RIDGE = 1.0  # L2 penalty on the weights, per image (as scikit-learn's C=1)


@dataclass(frozen=True)
class TextureOptions:
    holdout: float = 0.25
    min_score: float = DEFAULT_MIN_SCORE
    weight: float = DEFAULT_WEIGHT
    ridge: float = RIDGE
    seed: int = 0
    save: bool = True


@dataclass
class TextureResult:
    before: dict[str, float]
    after: dict[str, float]
    accuracy: float  # held-out classification accuracy
    classifier: TextureClassifier  # fitted on every labelled image (what was stored)
    images: int
    heldout: int

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "heldout_accuracy": self.accuracy,
                "classes": len(self.classifier.classes), "images": self.images, "heldout": self.heldout,
                "min_score": self.classifier.min_score, "weight": self.classifier.weight}


def fit_classifier(vectors: np.ndarray, labels: Sequence[str], feature: str, feature_version: str,
                   min_score: float = DEFAULT_MIN_SCORE, weight: float = DEFAULT_WEIGHT,
                   ridge: float = RIDGE) -> TextureClassifier:
    """Multinomial logistic regression: mean cross-entropy + ridge / (2 n) * |W|^2."""
    from scipy.optimize import minimize

    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise NotEnoughData("a texture classifier needs images of at least two labels")
    x = np.asarray(vectors, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    target = np.zeros((len(x), len(classes)))
    target[np.arange(len(x)), [classes.index(label) for label in labels]] = 1
    shape = (len(classes), z.shape[1] + 1)
    penalty = ridge / len(x)

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        parameters = theta.reshape(shape)
        logits = z @ parameters[:, :-1].T + parameters[:, -1]
        logits -= logits.max(axis=1, keepdims=True)
        log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        error = (np.exp(log_probabilities) - target) / len(x)
        gradient = np.concatenate([error.T @ z + penalty * parameters[:, :-1], error.sum(axis=0)[:, None]], axis=1)
        loss = -(target * log_probabilities).sum() / len(x) + penalty / 2 * (parameters[:, :-1] ** 2).sum()
        return loss, gradient.ravel()

    solution = minimize(loss_and_gradient, np.zeros(shape).ravel(), jac=True, method="L-BFGS-B",
                        options={"maxiter": 1000})
    parameters = solution.x.reshape(shape)
    return TextureClassifier(feature, feature_version, classes, mean, scale, parameters[:, :-1], parameters[:, -1],
                             float(min_score), float(weight))


def train_texture(store: Store, options: TextureOptions = TextureOptions()) -> TextureResult:
    """Measure the texture stage on a held-out split of the store's labelled images, then
    fit it on all of them and (with options.save) store it with the collection."""
    spec = next((s for s in store.specs if s.name == FEATURE), None)
    if spec is None:
        raise NotEnoughData(f"{store.location} has no {FEATURE} vectors: the texture classifier needs a store "
                            f"indexed with the {FEATURE} feature (the default features include it)")
    ids, labels = _labelled(store)
    vectors = {s.name: store.vectors(s.name, ids) for s in store.specs}
    train, test = holdout_split(list(labels), options.holdout, options.seed, by="image")
    heldout_model = fit_classifier(vectors[FEATURE][train], list(labels[train]), spec.name, spec.version,
                                   options.min_score, options.weight, options.ridge)
    before, after, accuracy = compare_rankings(store, vectors, labels, train, test, heldout_model)
    classifier = fit_classifier(vectors[FEATURE], list(labels), spec.name, spec.version, options.min_score,
                                options.weight, options.ridge)
    if options.save:
        save_classifier(store, classifier)
    return TextureResult(before, after, accuracy, classifier, len(ids), len(test))


Ranking = dict[str, float]


def compare_rankings(store: Store, vectors: dict[str, np.ndarray], labels: np.ndarray, train: np.ndarray,
                     test: np.ndarray, classifier: TextureClassifier) -> tuple[Ranking, Ranking, float]:
    """Held-out images query the training images: ranking metrics of the first stage
    (fused scores) and of the texture stage on top, and the classifier's accuracy."""
    raw = {s.name: similarity_matrix(s, vectors[s.name][test], vectors[s.name][train]) for s in store.specs}
    scores = fuse(store.specs, raw)
    probabilities = classifier.probabilities(vectors[classifier.feature][test].astype(np.float64))
    columns = [classifier.classes.index(label) for label in labels[train]]
    same = probabilities[:, columns]
    moved = rescore_in_band(scores, same, classifier.min_score, classifier.weight)
    relevant = labels[test][:, None] == labels[train][None, :]
    accuracy = float(np.mean(np.array(classifier.classes)[probabilities.argmax(axis=1)] == labels[test]))
    return _ranking(scores, relevant), _ranking(moved, relevant), round(accuracy, 4)


def _ranking(scores: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    orders = np.argsort(-scores, axis=1, kind="stable")
    rankings = [relevant[row][order] for row, order in enumerate(orders)]
    totals = [int(row.sum()) for row in relevant]
    scored = ranking_scores(rankings, totals)
    return {"mAP": round(scored.map, 4), "mAP@10": round(scored.map_at_10, 4),
            "precision@1": round(scored.precision_at[1], 4), "precision@5": round(scored.precision_at[5], 4),
            "recall@10": round(scored.recall_at[10], 4)}


def _labelled(store: Store) -> tuple[list[int], np.ndarray]:
    ids = store.image_ids()
    records = store.images(ids)
    labelled = [i for i in ids if records[i].label]
    labels = np.array([records[i].label for i in labelled], dtype=object)
    if len(set(labels.tolist())) < 2:
        raise NotEnoughData(f"{store.location}: the texture classifier needs labelled images of at least two "
                            "labels (index with --label-from prefix|folder)")
    return labelled, labels

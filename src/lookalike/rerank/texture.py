"""Texture re-ranking: for look-alike piles (the same tea in several heaps, fabrics, stone)
that the global embedding cannot tell apart, a texture classifier trained once on the
collection's labels re-orders the look-alikes.

`lookalike train texture` fits a linear classifier (multinomial logistic regression) on
the stored `lbp` vectors and labels and stores its parameters with the collection as plain
numbers (meta key `rerank.texture`); this stage only applies them, with numpy: no
scikit-learn or torch at query time, and nothing is retrained per query.

Look-alike piles are exactly where the first stage is overconfident: two heaps of
different teas can score as near-duplicates. So every candidate scoring at least the
classifier's `min_score`, except exact matches (the same file or pixels), is re-scored
with P(same texture) -- the query's class probability for the candidate's label, or, for
a candidate without a known label, the chance both fall in one class:

    score' = low + (1 - low) * ((1 - weight) * u + weight * P),  u = (score - low) / (1 - low)

so a candidate the classifier vouches for rises and one it rejects falls, within the band
[low, 1]; its tier follows its new score (a heap of another tea stops being a
"near-duplicate"). Candidates below the band keep their scores and places.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import LookalikeError
from ..scoring import FAR_LEVEL, tier_of
from . import Reranker, register_reranker

if TYPE_CHECKING:
    from ..query import QueryImage
    from ..records import Match
    from ..runtime import Runtime
    from ..store import Store

META_KEY = "rerank.texture"
FORMAT = 1
EVIDENCE = "texture_same"
DEFAULT_MIN_SCORE = FAR_LEVEL  # the band starts where unrelated images typically score
DEFAULT_WEIGHT = 0.25  # measured on the benchmark's texture sets: higher trusts a wrong class too much


class NoTextureClassifier(LookalikeError):
    def __init__(self, location: str) -> None:
        super().__init__(f"{location} has no texture classifier: label the images (index --label-from ...) "
                         "and run `lookalike train texture` on this --db first")


@dataclass(frozen=True)
class TextureClassifier:
    """A linear classifier over one stored feature: P(class | x) = softmax(W (x - mean) / scale + b)."""

    feature: str
    feature_version: str
    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (classes, dim)
    bias: np.ndarray  # (classes,)
    min_score: float  # the band of re-scored candidates starts here
    weight: float  # how far P(same texture) moves a score within the band

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, classes) class probabilities of feature vectors."""
        logits = ((np.atleast_2d(vectors) - self.mean) / self.scale) @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def same_probability(self, query: np.ndarray, labels: Sequence[str | None], vectors: np.ndarray) -> np.ndarray:
        """P(same texture) of the query (one vector) with each candidate (its label if the
        classifier knows it, else its own class probabilities)."""
        query_probabilities = self.probabilities(query)[0]
        index = {name: number for number, name in enumerate(self.classes)}
        result = np.empty(len(labels))
        unknown = [row for row, label in enumerate(labels) if label not in index]
        for row, label in enumerate(labels):
            if label in index:
                result[row] = query_probabilities[index[label]]
        if unknown:
            result[unknown] = self.probabilities(vectors[unknown]) @ query_probabilities
        return result

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "feature": self.feature, "feature_version": self.feature_version,
            "classes": list(self.classes), "mean": _numbers(self.mean), "scale": _numbers(self.scale),
            "weights": [_numbers(row) for row in self.weights], "bias": _numbers(self.bias),
            "min_score": self.min_score, "weight": self.weight,
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "TextureClassifier":
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise LookalikeError(f"texture classifier format {data.get('format')!r}, this lookalike reads {FORMAT}: "
                                 "run `lookalike train texture` again")
        array = lambda key: np.asarray(data[key], dtype=np.float64)  # noqa: E731
        return cls(data["feature"], data["feature_version"], tuple(data["classes"]), array("mean"), array("scale"),
                   array("weights").reshape(len(data["classes"]), -1), array("bias"), float(data["min_score"]),
                   float(data["weight"]))


def _numbers(values: np.ndarray) -> list[float]:
    return [float(f"{value:.7g}") for value in np.asarray(values, dtype=np.float64).ravel()]


def rescore_in_band(scores: np.ndarray, same: np.ndarray, low: float, weight: float) -> np.ndarray:
    """Move scores in [low, 1] within that band towards P(same texture); lower ones stay."""
    scores = np.asarray(scores, dtype=np.float64)
    if low >= 1:
        return scores.copy()
    position = (scores - low) / (1 - low)
    moved = low + (1 - low) * ((1 - weight) * position + weight * np.asarray(same, dtype=np.float64))
    return np.where(scores >= low, moved, scores)


def save_classifier(store: "Store", classifier: TextureClassifier) -> None:
    store.set_meta({META_KEY: classifier.to_json()})


def load_classifier(store: "Store") -> TextureClassifier | None:
    """The store's classifier, parsed once per collection and classifier, not per query."""
    text = store.meta().get(META_KEY)
    if text is None:
        return None
    parsed: dict[str, TextureClassifier] = store.runtime.state("texture.classifier", dict)
    if text not in parsed:
        parsed.clear()
        parsed[text] = TextureClassifier.from_json(text)
    return parsed[text]


@register_reranker("texture")
class TextureReranker(Reranker):
    name = "texture"

    def __init__(self, runtime: "Runtime | None" = None) -> None:
        """What the stage keeps (the parsed classifier) is in the store's runtime."""

    def rerank(self, store: "Store", query: "QueryImage", matches: list["Match"]) -> list["Match"]:
        classifier = load_classifier(store)
        if classifier is None:
            raise NoTextureClassifier(store.location)
        _check_feature(store, classifier)
        low = classifier.min_score
        band = [row for row, match in enumerate(matches) if match.tier != "exact" and match.score >= low]
        if not band:
            return matches
        query_vector = store.runtime.extractor(classifier.feature).extract_batch([query.image])
        candidates = [matches[row] for row in band]
        same = classifier.same_probability(
            query_vector, [match.image.label for match in candidates],
            store.vectors(classifier.feature, [match.image.id for match in candidates]).astype(np.float64))
        moved = rescore_in_band(np.array([match.score for match in candidates]), same, low, classifier.weight)
        threshold = store.settings.min_near_duplicate_score
        result = list(matches)
        for row, match, score, probability in zip(band, candidates, moved, same):
            result[row] = replace(match, score=float(score), evidence={**match.evidence, EVIDENCE: float(probability)},
                                  tier=tier_of(float(score), exact=False, min_near_duplicate=threshold))
        return sorted(result, key=lambda match: -match.score)


def _check_feature(store: "Store", classifier: TextureClassifier) -> Any:
    spec = next((spec for spec in store.specs if spec.name == classifier.feature), None)
    if spec is None or spec.version != classifier.feature_version:
        raise LookalikeError(f"the texture classifier of {store.location} was trained on {classifier.feature} "
                             f"version {classifier.feature_version}, which this store does not hold: "
                             "run `lookalike train texture` again")
    return spec

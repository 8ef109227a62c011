"""Which views go together: positives, hard negatives, training batches and held-out pairs.

Training data is a bank of views, (images, views, dim) with view 0 the image itself, plus
one group id per image (`data.group_ids`): images of one label share a group; an unlabelled
image is a group of its own, so its only positives are its own views. A batch is B anchors,
each with a positive (another view of the same group) and a negative (usually one of the
anchor's hard negatives: the nearest images of another group by the backbone alone, i.e.
exactly the confusions the head is there to fix).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK = 1024
HARD_NEGATIVE_SHARE = 0.5  # the rest are random other-group images, so the head keeps the big picture


def hard_negatives(vectors: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """(n, count) rows of the `count` most similar images of another group, most similar
    first, by cosine of L2-normalised `vectors` (blockwise: memory stays at BLOCK x n)."""
    count = max(1, min(count, len(vectors) - 1))
    found = np.empty((len(vectors), count), dtype=np.int64)
    for start in range(0, len(vectors), BLOCK):
        rows = slice(start, min(start + BLOCK, len(vectors)))
        similarity = vectors[rows] @ vectors.T
        similarity[groups[rows, None] == groups[None, :]] = -np.inf
        nearest = np.argpartition(-similarity, count - 1, axis=1)[:, :count]
        order = np.argsort(-np.take_along_axis(similarity, nearest, axis=1), axis=1, kind="stable")
        found[rows] = np.take_along_axis(nearest, order, axis=1)
    return found


@dataclass
class Batch:
    """Flat indices into the (images * views) bank, and the anchors' groups."""

    anchors: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray
    anchor_groups: np.ndarray
    negative_groups: np.ndarray


class TripletSampler:
    """Draws batches of (anchor, positive, negative) views; an epoch visits every view of
    every image once as an anchor, in a new random order."""

    def __init__(self, groups: np.ndarray, views: int, negatives: np.ndarray, rng: np.random.Generator) -> None:
        self.groups, self.views, self.negatives, self.rng = groups, views, negatives, rng
        self.members = {int(groups[rows[0]]): rows for rows in _group_members(groups)}
        self.order = np.empty(0, dtype=np.int64)

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, -(-len(self.groups) * self.views // batch_size))

    def batch(self, size: int) -> Batch:
        if len(self.order) < size:
            self.order = np.concatenate([self.order, self.rng.permutation(len(self.groups) * self.views)])
        anchors, self.order = self.order[:size], self.order[size:]
        images, anchor_views = anchors // self.views, anchors % self.views
        positives = np.array([self._positive(int(i), int(v)) for i, v in zip(images, anchor_views)])
        negative_images = np.array([self._negative(int(i)) for i in images])
        negative_views = self.rng.integers(self.views, size=len(images))
        return Batch(
            anchors=anchors,
            positives=positives,
            negatives=negative_images * self.views + negative_views,
            anchor_groups=self.groups[images],
            negative_groups=self.groups[negative_images],
        )

    def _positive(self, image: int, view: int) -> int:
        """Another view of a same-group image (a different view when it is the anchor itself)."""
        other = int(self.rng.choice(self.members[int(self.groups[image])]))
        other_view = int(self.rng.integers(self.views))
        if other == image and self.views > 1:
            other_view = (view + 1 + int(self.rng.integers(self.views - 1))) % self.views
        return other * self.views + other_view

    def _negative(self, image: int) -> int:
        if self.rng.random() < HARD_NEGATIVE_SHARE:
            return int(self.rng.choice(self.negatives[image]))
        while True:
            other = int(self.rng.integers(len(self.groups)))
            if self.groups[other] != self.groups[image]:
                return other


def labelled_pairs(groups: np.ndarray, rng: np.random.Generator,
                   max_positives: int = 50_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, second, same): same-group pairs (all of them, or a random `max_positives`)
    and four times as many random different-group pairs, for measuring anchors and
    fitting P(same). Never builds the n x n pair list."""
    positives = np.concatenate(
        [members[np.stack(np.triu_indices(len(members), k=1))] for members in _group_members(groups)]
        + [np.empty((2, 0), dtype=np.int64)], axis=1)
    if positives.shape[1] > max_positives:
        positives = positives[:, rng.choice(positives.shape[1], size=max_positives, replace=False)]
    wanted = 4 * max(positives.shape[1], 1)
    candidates = rng.integers(len(groups), size=(2, 3 * wanted))
    negatives = candidates[:, groups[candidates[0]] != groups[candidates[1]]][:, :wanted]
    first = np.concatenate([positives[0], negatives[0]])
    second = np.concatenate([positives[1], negatives[1]])
    return first, second, np.arange(len(first)) < positives.shape[1]


def _group_members(groups: np.ndarray) -> list[np.ndarray]:
    """The rows of each group, groups in ascending order (one sort, not a scan per group)."""
    order = np.argsort(groups, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(groups[order])) + 1) if len(groups) else []

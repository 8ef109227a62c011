"""Duplicate groups and nearest-neighbour lists over the whole collection.

Never an all-pairs matrix: candidate pairs come from range searches in the hash and
embedding indexes (each feature's radius is where it alone could lift a pair to the
threshold), are re-scored exactly on every feature, and linked into connected components
with a union-find. Memory grows with the number of candidate pairs, not with n^2.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .features.base import pair_similarity
from .records import DuplicateGroup, Neighbour, Neighbours
from .scoring import fuse, raw_for_calibrated
from .store import Store

QUERY_BATCH = 4096
# A pair whose best single feature sits this far below the threshold (on the calibrated
# scale) cannot reach it after fusion, so the range searches stop there.
RADIUS_SLACK = 0.15
# Groups up to this size report the true weakest pairwise link; larger ones the weakest
# link that joined them (all pairs of a huge group would be the n^2 we avoid).
MAX_GROUP_FOR_ALL_PAIRS = 200


def find_duplicates(store: Store, min_score: float | None = None) -> list[DuplicateGroup]:
    """Groups of near-duplicates, largest first. Byte-identical files are one image with
    several paths; such an image is a group by itself (weakest link 1.0) unless it joins
    a larger one."""
    threshold = store.settings.min_near_duplicate_score if min_score is None else min_score
    pairs = _candidate_pairs(store, threshold - RADIUS_SLACK)
    scores = score_pairs(store, pairs) if len(pairs) else np.empty(0)
    kept, kept_scores = pairs[scores >= threshold], scores[scores >= threshold]
    groups = _connected_components(kept)
    grouped = {image_id for members in groups for image_id in members}
    copies = [[i] for i in store.images_with_several_paths() if i not in grouped]
    records = store.images([i for members in groups + copies for i in members])
    result = [DuplicateGroup((records[i],), 1.0) for (i,) in copies]
    for members in groups:
        weakest = _weakest_link(store, members, kept, kept_scores)
        result.append(DuplicateGroup(tuple(records[i] for i in members), weakest))
    result.sort(key=lambda g: (-sum(len(i.paths) for i in g.images), g.images[0].id))
    return result


def score_pairs(store: Store, pairs: np.ndarray) -> np.ndarray:
    """Fused scores of (n, 2) id pairs, computed exactly from the stored vectors."""
    ids = np.unique(pairs)
    raw = {}
    for spec in store.specs:
        vectors = store.vectors(spec.name, ids.tolist())
        left = vectors[np.searchsorted(ids, pairs[:, 0])]
        right = vectors[np.searchsorted(ids, pairs[:, 1])]
        raw[spec.name] = pair_similarity(spec, left, right)
    return fuse(store.specs, raw)


def neighbours(store: Store, k: int = 20, ids: Sequence[int] | None = None) -> Iterator[Neighbours]:
    """Each image's k nearest neighbours by fused score (all images, or `ids`), streamed."""
    names = store.candidate_features()
    reach = max(3 * k, 32)
    all_ids = store.image_ids() if ids is None else list(ids)
    for start in range(0, len(all_ids), QUERY_BATCH):
        ids = all_ids[start : start + QUERY_BATCH]
        found: list[set[int]] = [set() for _ in ids]
        for name in names:
            _, hits = store.search_vectors(name, store.vectors(name, ids), reach + 1)
            for row, row_hits in enumerate(hits):
                found[row].update(int(i) for i in row_hits if i >= 0 and i != ids[row])
        pairs = np.array([(i, j) for i, js in zip(ids, found) for j in sorted(js)], dtype=np.int64)
        scores = score_pairs(store, pairs) if len(pairs) else np.empty(0)
        yield from _ranked_neighbours(store, ids, pairs, scores, k)


def _ranked_neighbours(
    store: Store, ids: list[int], pairs: np.ndarray, scores: np.ndarray, k: int
) -> Iterator[Neighbours]:
    needed = set(ids) | {int(j) for j in (pairs[:, 1] if len(pairs) else [])}
    records = store.images(sorted(needed))
    for image_id in ids:
        mine = np.flatnonzero(pairs[:, 0] == image_id) if len(pairs) else np.empty(0, dtype=int)
        order = mine[np.argsort(-scores[mine], kind="stable")][:k]
        yield Neighbours(
            records[image_id],
            tuple(Neighbour(records[int(pairs[p, 1])], float(scores[p])) for p in order),
        )


def _candidate_pairs(store: Store, level: float) -> np.ndarray:
    """Unique (i < j) id pairs that some hash or embedding index puts within reach."""
    found: list[np.ndarray] = []
    for spec in map(store.spec, store.candidate_features()):
        radius = raw_for_calibrated(spec, level)
        for ids, vectors in store.iter_vectors(spec.name, QUERY_BATCH):
            lims, _, hits = store.range_search(spec.name, vectors, radius)
            left = np.repeat(ids, np.diff(lims).astype(np.int64))
            keep = left < hits
            found.append(np.stack([left[keep], hits[keep]], axis=1))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(found), axis=0)


def _connected_components(pairs: np.ndarray) -> list[list[int]]:
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for left, right in pairs.tolist():
        a, b = root(left), root(right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    return [sorted(members) for members in groups.values()]


def _weakest_link(store: Store, members: list[int], kept: np.ndarray, kept_scores: np.ndarray) -> float:
    if len(members) <= MAX_GROUP_FOR_ALL_PAIRS:
        upper = np.triu_indices(len(members), k=1)
        ids = np.asarray(members, dtype=np.int64)
        return float(score_pairs(store, np.stack([ids[upper[0]], ids[upper[1]]], axis=1)).min())
    inside = np.isin(kept[:, 0], members)
    return float(kept_scores[inside].min())

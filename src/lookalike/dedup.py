"""Duplicate groups and nearest-neighbour lists over the whole collection.

Never an all-pairs matrix. Every image asks each copy detector's index (hashes, embedding)
for its few nearest neighbours (`SCAN_NEIGHBOURS`, searching only the cells around it in
an approximate index) and keeps those within reach: the similarity at which that feature
alone could still lift a pair to the threshold (`reach_level`). A screen then bounds each
pair's fused score from above without reading the catalog: the small features (hashes,
colour, texture: a few hundred bytes per image) are held in memory and compared exactly,
the embedding's similarity is the one its index reported (plus the codes' error), or at
most its reach when its index did not propose the pair. Only pairs whose bound reaches the
threshold are re-scored exactly from the catalog, and those at or above it are linked into
connected components with a union-find.

Work and memory grow with n x SCAN_NEIGHBOURS, not with n^2: a copy is among its
original's nearest neighbours, and a group larger than SCAN_NEIGHBOURS still joins up
through chains. `exhaustive=True` takes every pair within reach instead (range searches
over the indexes): with exact indexes it finds every group, for checking the scan, but its
pairs can grow with n^2.

Video frames are linked like pictures, but videos are grouped by their frame sequences, not
by a single shared frame (`lookalike.sequences`).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .components import connected_components
from .features.base import FeatureSpec, pair_similarity
from .records import DuplicateGroup, Neighbour, Neighbours
from .scoring import COPY_WEIGHT, fuse, hash_weight, raw_for_calibrated
from .sequences import split_video_pairs
from .stats import DuplicateStats, timed
from .store import Store

QUERY_BATCH = 4096
# Nearest neighbours each image takes from each copy detector's index in the scan.
SCAN_NEIGHBOURS = 16
# An approximate float index compares 8-bit codes: its similarities may sit this far from
# the exact ones, so the screen adds it to them (survivors are re-scored exactly).
CODE_SLACK = 0.02
# Float features up to this many dimensions are held in memory by the screen (colour 72,
# texture 54: ~500 bytes per image); larger ones (the embedding) stay in the catalog.
SCREEN_MAX_DIM = 128
# Groups up to this size report the true weakest pairwise link; larger ones the weakest
# link that joined them (all pairs of a huge group would be the n^2 we avoid).
MAX_GROUP_FOR_ALL_PAIRS = 200


def find_duplicates(
    store: Store, min_score: float | None = None, *, exhaustive: bool = False, stats: DuplicateStats | None = None
) -> list[DuplicateGroup]:
    """Groups of near-duplicates, largest first. Byte-identical files are one image with
    several paths; such an image is a group by itself (weakest link 1.0) unless it joins
    a larger one. `exhaustive`: every pair within reach (range searches), not the scan.
    `stats`: filled with the candidate pairs, the pairs scored and the time each took."""
    threshold = store.settings.min_near_duplicate_score if min_score is None else min_score
    kept, kept_scores = _linked_pairs(store, threshold, exhaustive, stats)
    # pairs with a video frame: videos group by their frame sequences (`lookalike.sequences`)
    kept, kept_scores, clips = split_video_pairs(store, kept, kept_scores)
    groups = connected_components(map(tuple, kept.tolist()))
    grouped = {image_id for members in groups for image_id in members} | {v for clip in clips for v in clip.videos}
    copies = [[i] for i in store.images_with_several_paths() if i not in grouped]
    records = store.images([i for members in [*groups, *copies, *(clip.videos for clip in clips)] for i in members])
    result = [DuplicateGroup((records[i],), 1.0) for (i,) in copies]
    result += [DuplicateGroup(tuple(records[i] for i in clip.videos), clip.weakest_link) for clip in clips]
    for members, weakest in zip(groups, _weakest_links(store, groups, kept, kept_scores, stats)):
        result.append(DuplicateGroup(tuple(records[i] for i in members), weakest))
    result.sort(key=lambda g: (-sum(len(i.paths) for i in g.images), g.images[0].id))
    return result


def pair_specs(store: Store) -> list[FeatureSpec]:
    """The features two stored images are compared on: all but the regional ones, which are
    searched with a query's whole-picture vector (a stored image compares whole to whole)."""
    return [spec for spec in store.specs if spec.family != "region"]


def reach_level(store: Store, threshold: float) -> float:
    """The calibrated level some copy detector must reach for a pair's fused score to
    reach `threshold`. Fused = COPY_WEIGHT x copy + the rest x looks, with copy at most the
    best hash or embedding level and looks at most 1; without a looks (or copy) family the
    score is the other family's, at most its best feature. So the bound loses no pair."""
    families = {spec.family for spec in store.specs}
    has_copy = bool(families & {"hash", "embedding", "copy"})
    has_looks = bool(families & {"colour", "texture"})
    if has_copy and has_looks:
        return (threshold - (1.0 - COPY_WEIGHT)) / COPY_WEIGHT
    return threshold


def score_pairs(
    store: Store, pairs: np.ndarray, chunk: int = 50_000, held: "HeldVectors | None" = None
) -> np.ndarray:
    """Fused scores of (n, 2) id pairs, computed exactly from the stored vectors (a chunk
    of pairs at a time, so memory stays bounded; features in `held` from memory)."""
    parts = [_score_chunk(store, pairs[i : i + chunk], held) for i in range(0, len(pairs), chunk)]
    return np.concatenate(parts) if parts else np.empty(0)


def _score_chunk(store: Store, pairs: np.ndarray, held: "HeldVectors | None") -> np.ndarray:
    ids = np.unique(pairs)
    raw = {}
    for spec in pair_specs(store):
        if held is not None and spec.name in held.vectors:
            raw[spec.name] = held.similarity(spec, pairs)
            continue
        vectors = store.vectors(spec.name, ids.tolist())
        left = vectors[np.searchsorted(ids, pairs[:, 0])]
        right = vectors[np.searchsorted(ids, pairs[:, 1])]
        raw[spec.name] = _similarity(spec, left, right)
    return fuse(pair_specs(store), raw, _pair_hash_weights(store, ids, pairs))


def _pair_hash_weights(store: Store, ids: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The hashes' weight for each pair (`scoring.hash_weight`, the lower side's): agreeing
    bits of a flat or smooth picture make no duplicate. Fusing without it (weight 1) gives
    the upper bound `HeldVectors.upper_bound` needs."""
    records = store.images(ids.tolist())
    weight = np.asarray([hash_weight(records[int(i)].hash_detail) for i in ids], dtype=np.float64)
    return np.minimum(weight[np.searchsorted(ids, pairs[:, 0])], weight[np.searchsorted(ids, pairs[:, 1])])


def _similarity(spec: FeatureSpec, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if spec.kind == "binary":
        return pair_similarity(spec, left, right)
    # float32 products: a 1280-d embedding in float64 would double the work
    return np.clip(np.einsum("ij,ij->i", left, right, dtype=np.float32), 0.0, 1.0).astype(np.float64)


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


def _linked_pairs(
    store: Store, threshold: float, exhaustive: bool, stats: DuplicateStats | None
) -> tuple[np.ndarray, np.ndarray]:
    """(unique (i < j) pairs scoring at or above `threshold`, their scores), found a chunk
    of candidates at a time, so only the kept pairs accumulate."""
    level = reach_level(store, threshold)
    held = HeldVectors(store)
    kept, kept_scores = [np.empty((0, 2), dtype=np.int64)], [np.empty(0)]
    for pairs, reported in _counted(_candidate_pairs(store, level, exhaustive), stats):
        pairs = pairs[held.upper_bound(store, pairs, reported, level) >= threshold - 1e-9]
        if len(pairs):
            scores = _timed_scores(store, pairs, held, stats)
            kept.append(pairs[scores >= threshold])
            kept_scores.append(scores[scores >= threshold])
    pairs, first = np.unique(np.concatenate(kept), axis=0, return_index=True)
    return pairs.reshape(-1, 2), np.concatenate(kept_scores)[first]


def _timed_scores(
    store: Store, pairs: np.ndarray, held: "HeldVectors | None", stats: DuplicateStats | None
) -> np.ndarray:
    """`score_pairs`, its time and pairs added to `stats`."""
    with timed(stats, "scoring"):
        scores = score_pairs(store, pairs, held=held)
    if stats is not None:
        stats.scored_pairs += len(pairs)
    return scores


def _counted(
    chunks: Iterator[tuple[np.ndarray, dict[str, np.ndarray]]], stats: DuplicateStats | None
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """The candidate chunks, their pairs and the time spent making them added to `stats`."""
    if stats is None:
        yield from chunks
        return
    while True:
        with timed(stats, "candidates"):
            chunk = next(chunks, None)
        if chunk is None:
            return
        stats.candidate_pairs += len(chunk[0])
        yield chunk


def _candidate_pairs(
    store: Store, level: float, exhaustive: bool
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Chunks of unique (i < j) pairs that one hash or embedding index puts within reach,
    with the similarity that index reported for each ({feature: similarities})."""
    for spec in map(store.spec, store.candidate_features()):
        radius = raw_for_calibrated(spec, level)
        if exhaustive:
            chunks = _in_range(store, spec.name, radius)
        else:
            chunks = store.close_pairs(spec.name, radius - (0.0 if spec.kind == "binary" else CODE_SLACK), SCAN_NEIGHBOURS)
        for left, right, similarity in chunks:
            other = left != right
            pairs = np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1)[other]
            pairs, where = np.unique(pairs, axis=0, return_inverse=True)
            best = np.full(len(pairs), -np.inf)
            np.maximum.at(best, where.ravel(), similarity[other])
            yield pairs.reshape(-1, 2), {spec.name: best}


def _in_range(store: Store, feature: str, radius: float) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every stored pair at `radius` and above, by range searches a batch at a time."""
    for ids, vectors in store.iter_vectors(feature, QUERY_BATCH):
        lims, similarity, hits = store.range_search(feature, vectors, radius)
        left = np.repeat(ids, np.diff(lims).astype(np.int64))
        mine = left < hits  # each pair once: the search is symmetric
        yield left[mine], hits[mine], similarity[mine]


class HeldVectors:
    """Every vector of the small features (hashes: 8 bytes; colour, texture: a few hundred
    bytes per image) in memory, in id order, for exact similarities without the catalog."""

    def __init__(self, store: Store) -> None:
        self.ids = np.asarray(store.image_ids(), dtype=np.int64)
        self.vectors = {
            spec.name: _all_vectors(store, spec)
            for spec in store.specs
            if spec.kind == "binary" or spec.dim <= SCREEN_MAX_DIM
        }

    def similarity(self, spec: FeatureSpec, pairs: np.ndarray) -> np.ndarray:
        vectors = self.vectors[spec.name]
        left, right = np.searchsorted(self.ids, pairs[:, 0]), np.searchsorted(self.ids, pairs[:, 1])
        return _similarity(spec, vectors[left], vectors[right])

    def upper_bound(
        self, store: Store, pairs: np.ndarray, reported: dict[str, np.ndarray], level: float
    ) -> np.ndarray:
        """Each pair's fused score at most: held features exact; another feature at the
        similarity its index reported (plus CODE_SLACK for float codes), or, where its index
        did not propose the pair, at its reach (a pair within it is proposed by it, and
        judged on what it reports there)."""
        raw, candidates = {}, set(store.candidate_features())
        for spec in pair_specs(store):
            if spec.name in self.vectors:
                raw[spec.name] = self.similarity(spec, pairs)
                continue
            seen = reported.get(spec.name)
            if seen is not None:
                raw[spec.name] = np.minimum(seen + (0.0 if spec.kind == "binary" else CODE_SLACK), 1.0)
            elif spec.name in candidates:  # its index did not propose the pair here
                raw[spec.name] = np.full(len(pairs), raw_for_calibrated(spec, level))
            else:  # no index vouches for it: no bound
                raw[spec.name] = np.ones(len(pairs))
        return fuse(pair_specs(store), raw)


def _all_vectors(store: Store, spec: FeatureSpec) -> np.ndarray:
    chunks = [vectors for _, vectors in store.iter_vectors(spec.name, 100_000)]
    return np.concatenate(chunks) if chunks else np.empty((0, spec.width), dtype=spec.dtype)


def _weakest_links(
    store: Store, groups: list[list[int]], kept: np.ndarray, kept_scores: np.ndarray, stats: DuplicateStats | None
) -> list[float]:
    """Each group's weakest pairwise score (all pairs scored at once), or for a group over
    MAX_GROUP_FOR_ALL_PAIRS the weakest link that joined it."""
    small = [members for members in groups if len(members) <= MAX_GROUP_FOR_ALL_PAIRS]
    pairs = [np.stack([np.asarray(m)[u] for u in np.triu_indices(len(m), k=1)], axis=1) for m in small]
    scores = _timed_scores(store, np.concatenate(pairs), None, stats) if pairs else np.empty(0)
    weakest, start = {}, 0
    for members, part in zip(small, pairs):
        weakest[members[0]] = float(scores[start : start + len(part)].min())
        start += len(part)
    for members in groups:
        if members[0] not in weakest:
            weakest[members[0]] = float(kept_scores[np.isin(kept[:, 0], members)].min())
    return [weakest[members[0]] for members in groups]

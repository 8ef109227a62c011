"""Query latency, in a child process of its own: search timed per stage on a store, and
the embedding index's recall against exact search.

    run_child(task_query_latency, timeout=3600, db=..., queries=[[query, original], ...])
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterator

import numpy as np

from ..child_process import current_rss_mb, own_peak_rss_mb
from .plan import EMBEDDING


def task_query_latency(db: str, queries: list[list[str]], strangers: list[str] | None = None, k: int = 10,
                       in_store_queries: int = 200, rerank: list[str] | None = None,
                       keypoint_cache: str | None = None, recall: bool = True) -> dict[str, Any]:
    """Search every query (timed: total and per stage, from the search's own `SearchStats`;
    how many turned the CNN), then the same for `strangers` (photos with no copy stored:
    search never settles upright for them), then (`recall`) the embedding index's recall@10
    against exact inner-product search. With `rerank`, searches run those stages; for the
    keypoint stage the stored photos are described first into `keypoint_cache`, as
    `index --keypoints` does."""
    if keypoint_cache is not None:  # before lookalike reads it
        os.environ["LOOKALIKE_CACHE_DIR"] = keypoint_cache
    from lookalike import Collection

    started = time.perf_counter()
    collection = Collection(db)
    open_seconds = time.perf_counter() - started
    described = _describe_stored_photos(collection) if rerank and "keypoints" in rerank else None
    for query, _ in queries[:3]:  # warm-up: model load, first touches of the indexes
        collection.search(query, k=k, rerank=rerank)
    rss_before = current_rss_mb()
    timings, found, embeddings, turned = [], 0, [], 0
    for query, original in queries:
        matches, stats = _timed_search(collection, query, k, timings, rerank)
        turned += stats.turned
        found += any(original in match.image.paths for match in matches)
        embeddings.append(stats.features.vectors[EMBEDDING][0])
    stranger_timings, stranger_turned = [], 0
    for query in strangers or []:
        _, stats = _timed_search(collection, query, k, stranger_timings, rerank)
        stranger_turned += stats.turned
    serving_rss = own_peak_rss_mb()  # open, model, indexes, queries: what a server holds
    store = collection.store
    recall = embedding_recall(store, np.stack(embeddings), in_store_queries, k) if recall else {}
    index = store.indexes[EMBEDDING]
    result = {
        "size": len(index),
        "queries": len(queries),
        "open_seconds": round(open_seconds, 2),
        "rss_before_mb": round(rss_before, 1),
        "serving_peak_rss_mb": round(serving_rss, 1),
        "factory": index.factory,
        "factories": {name: other.factory for name, other in store.indexes.items()},
        "nprobe": _nprobe(index.index),
        "planted_found": round(found / len(queries), 3),
        "turned_share": round(turned / len(queries), 3),
        "rerank": rerank or [],
        **({"keypoints_described": described} if described is not None else {}),
        **recall,
        "ms": _percentiles(timings),
    }
    if stranger_timings:
        result["strangers"] = {"queries": len(stranger_timings), "turned_share": round(stranger_turned / len(stranger_timings), 3),
                               "ms": _percentiles(stranger_timings)}
    collection.close()
    return result


def _timed_search(collection: Any, query: str, k: int, timings: list[dict[str, float]],
                  rerank: list[str] | None = None) -> tuple[Any, Any]:
    """(matches, the search's stats); its total and stage seconds appended to `timings`."""
    from lookalike.stats import SearchStats

    stats = SearchStats()
    started = time.perf_counter()
    matches = collection.search(query, k=k, rerank=rerank, stats=stats)
    total = time.perf_counter() - started
    timings.append({"total": total, "decode": stats.decode_seconds, "features": stats.features_seconds,
                    "index": stats.candidates_seconds})
    return matches, stats


def _describe_stored_photos(collection: Any) -> dict[str, Any]:
    """Keypoints of every stored image that has a file (the synthetic ones have none)."""
    from lookalike.rerank.keypoints import precompute

    store = collection.store
    ids = [row[0] for row in store.catalog.db.execute(
        "SELECT DISTINCT image_id FROM paths WHERE path NOT LIKE '/synthetic/%'").fetchall()]
    started = time.perf_counter()
    precompute(store, ids)
    return {"images": len(ids), "seconds": round(time.perf_counter() - started, 1)}


def _percentiles(timings: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    stages = ["total", "decode", "features", "index"]
    table = {stage: np.array([t.get(stage, 0.0) for t in timings]) * 1000 for stage in stages}
    table["rescore"] = table["total"] - table["decode"] - table["features"] - table["index"]
    return {
        stage: {"p50": round(float(np.percentile(v, 50)), 2), "p99": round(float(np.percentile(v, 99)), 2),
                "mean": round(float(v.mean()), 2)}
        for stage, v in table.items()
    }


def _nprobe(index: Any) -> int | None:
    import faiss

    try:
        return int(faiss.extract_index_ivf(index).nprobe)
    except RuntimeError:
        return None


def embedding_recall(store: Any, queries: np.ndarray, in_store: int, k: int) -> dict[str, Any]:
    """recall@k of the embedding index (as the store searches it: an approximate index's
    candidates re-ranked exactly) for the real query images and for `in_store` stored
    vectors used as queries, against exact search over the catalog's vectors; the share of
    the exact top k among the candidates search's first stage takes from the index for a
    k-result search (it re-scores them all exactly, so that share bounds what it can find);
    and the index's time per single query vector."""
    from lookalike.search import candidates_per_index

    ids = np.asarray(store.image_ids(), dtype=np.int64)
    sample = np.random.default_rng(0).choice(ids, size=min(in_store, len(ids)), replace=False)
    stored_queries = store.vectors(EMBEDDING, sample.tolist())
    everything = np.concatenate([queries, stored_queries]).astype(np.float32)
    exact = exact_top_k(store.iter_vectors(EMBEDDING, 50_000), everything, k)
    single, approximate, candidates = [], [], []
    for vector in everything:
        started = time.perf_counter()
        _, found = store.search_vectors(EMBEDDING, vector[None, :], k)
        single.append((time.perf_counter() - started) * 1000)
        approximate.append(found[0].tolist())
        _, proposed = store.search_candidates(EMBEDDING, vector[None, :], candidates_per_index(store.spec(EMBEDDING), k))
        candidates.append(proposed[0].tolist())
    overlap = np.array([len(set(a) & set(e)) / k for a, e in zip(approximate, exact.tolist())])
    covered = np.array([len(set(c) & set(e)) / k for c, e in zip(candidates, exact.tolist())])
    return {
        "recall_at_10_query_images": round(float(overlap[: len(queries)].mean()), 4),
        "recall_at_10_stored_vectors": round(float(overlap[len(queries):].mean()), 4),
        "candidate_recall_query_images": round(float(covered[: len(queries)].mean()), 4),
        "candidate_recall_stored_vectors": round(float(covered[len(queries):].mean()), 4),
        "embedding_index_ms": {"p50": round(float(np.percentile(single, 50)), 3),
                               "p99": round(float(np.percentile(single, 99)), 3)},
    }


def exact_top_k(chunks: Iterator[tuple[np.ndarray, np.ndarray]], queries: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k largest inner products per query, streaming over (ids, vectors) chunks."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    for ids, vectors in chunks:
        scores = np.concatenate([best_scores, queries @ vectors.T], axis=1)
        candidates = np.concatenate([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))], axis=1)
        keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_ids = np.take_along_axis(candidates, keep, axis=1)
    return best_ids


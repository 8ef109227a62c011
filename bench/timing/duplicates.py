"""`duplicates` in a child process of its own: lookalike's scan with its stages timed,
and imagededup's `find_duplicates` on the same stored pHashes."""

from __future__ import annotations

import time
from typing import Any

from ..child_process import current_rss_mb
from ..imagededup_hashing import without_torch
from .plan import IMAGEDEDUP_MAX_DISTANCE


def task_lookalike_duplicates(db: str) -> dict[str, Any]:
    """`Collection.duplicates()`, timed, with the candidate-pair stage (index searches)
    and the exact re-scoring timed and counted on their own (the scan's `DuplicateStats`)."""
    from lookalike import Collection
    from lookalike.stats import DuplicateStats

    stats = DuplicateStats()
    collection = Collection(db)
    size = len(collection.store.image_ids())
    rss_before = current_rss_mb()
    started = time.perf_counter()
    result: dict[str, Any] = {"size": size, "rss_before_mb": round(rss_before, 1)}
    try:
        groups = collection.duplicates(stats=stats)
        result.update(groups=len(groups), grouped_images=sum(len(g.images) for g in groups))
    except MemoryError:
        result["error"] = "MemoryError"
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["candidate_pairs"] = stats.candidate_pairs
    result["rescored_pairs"] = stats.scored_pairs
    result["stage_seconds"] = {"candidates": round(stats.candidates_seconds, 2),
                               "scoring": round(stats.scoring_seconds, 2)}
    collection.close()
    return result


def task_imagededup(db: str, size: int) -> dict[str, Any]:
    """imagededup's find_duplicates on the pHashes of the first `size` stored images,
    given as its 16-character hex strings, with its default search (cython brute force
    over a process pool)."""
    import warnings

    from lookalike.catalog import Catalog
    from lookalike.features.registry import get_spec

    catalog = Catalog(db)
    ids, vectors = next(catalog.iter_vectors(get_spec("phash"), size))  # the first `size` images
    catalog.close()
    encodings = {str(i): bytes(v).hex() for i, v in zip(ids.tolist(), vectors)}
    phash = without_torch().PHash(verbose=False)
    rss_before = current_rss_mb()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = phash.find_duplicates(encoding_map=encodings, max_distance_threshold=IMAGEDEDUP_MAX_DISTANCE)
    seconds = time.perf_counter() - started
    return {
        "size": len(encodings),
        "seconds": round(seconds, 2),
        "pairs": sum(len(v) for v in found.values()) // 2,
        "images_with_duplicates": sum(1 for v in found.values() if v),
        "rss_before_mb": round(rss_before, 1),
    }

"""The one-machine figures' own timed runs, each in a child process of its own: the
duplicate scan against every pair within reach, and single adds and removals."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..timing.layout import remove_store


def task_group_recall(db: str, scratch: str) -> dict[str, Any]:
    """Duplicate groups of the store at `db` as `duplicates` finds them (the scan over its
    indexes), and over a copy of its catalog with exact indexes and every pair within
    reach (range searches): how many of the exact groups the scan finds."""
    from lookalike import Collection, Settings
    from lookalike.dedup import find_duplicates

    copy = Path(scratch) / "exact.db"
    remove_store(copy)
    copy.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        if Path(f"{db}{suffix}").exists():
            shutil.copyfile(f"{db}{suffix}", f"{copy}{suffix}")
    with Collection(db) as collection:
        factories = {name: index.factory for name, index in collection.store.indexes.items()}
        started = time.perf_counter()
        scan = [frozenset(i.id for i in g.images) for g in find_duplicates(collection.store)]
        scan_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with Collection(settings=Settings(db=copy, max_exact_vectors=10**12)) as collection:
        build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        exact = [frozenset(i.id for i in g.images) for g in find_duplicates(collection.store, exhaustive=True)]
        exact_seconds = time.perf_counter() - started
    remove_store(copy)
    return {
        "size": None,
        "factories": factories,
        "scan_seconds": round(scan_seconds, 1),
        "exhaustive_seconds": round(exact_seconds, 1),
        "exact_index_build_seconds": round(build_seconds, 1),
        **group_agreement(exact, scan),
    }


def group_agreement(exact: list[frozenset[int]], found: list[frozenset[int]]) -> dict[str, Any]:
    """How much of the exact grouping `found` recovers: the share of exact groups found
    whole, and of pairs of images grouped together (pair recall); and the share of found
    groups that lie inside one exact group (they should all: the scan's pairs are scored
    exactly, so it can miss pairs but not invent them)."""
    label = {image: n for n, group in enumerate(found) for image in group}
    pairs = together = 0
    for group in exact:
        pairs += len(group) * (len(group) - 1) // 2
        counts = Counter(label.get(image, -1 - image) for image in group)
        together += sum(c * (c - 1) // 2 for c in counts.values())
    exact_of = {image: n for n, group in enumerate(exact) for image in group}
    inside = sum(1 for group in found if len({exact_of.get(image, -1 - image) for image in group}) == 1)
    exact_set = set(exact)
    return {
        "exact_groups": len(exact),
        "found_groups": len(found),
        "exact_grouped_images": sum(len(g) for g in exact),
        "found_grouped_images": sum(len(g) for g in found),
        "groups_found_whole": round(sum(1 for g in found if g in exact_set) / max(len(exact), 1), 4),
        "pair_recall": round(together / max(pairs, 1), 4),
        "found_inside_exact": round(inside / max(len(found), 1), 4),
    }


def task_single_writes(db: str, photos: list[str]) -> dict[str, Any]:
    """Add the photos to the store one at a time, then remove them one at a time (the store
    ends as it began): what one upload or one deletion costs at this size. The index files
    are not written for each (see `lookalike.store.embedded`); the first photo only warms up
    the model."""
    import numpy as np

    from lookalike import Collection

    add_ms, remove_ms = [], []
    with Collection(db) as collection:
        collection.add([photos[0]])
        collection.remove([str(Path(photos[0]).resolve())])
        for photo in photos[1:]:
            started = time.perf_counter()
            report = collection.add([photo])
            add_ms.append((time.perf_counter() - started) * 1000)
            if report.indexed + report.linked != 1:
                raise RuntimeError(f"{photo} was not added: {report}")
        for photo in photos[1:]:
            started = time.perf_counter()
            collection.remove([str(Path(photo).resolve())])
            remove_ms.append((time.perf_counter() - started) * 1000)
    return {
        "photos": len(photos) - 1,
        "add_ms": {"p50": round(float(np.percentile(add_ms, 50)), 1), "max": round(max(add_ms), 1)},
        "remove_ms": {"p50": round(float(np.percentile(remove_ms, 50)), 1), "max": round(max(remove_ms), 1)},
    }

"""The crops benchmark's measurements: each query searched without and with the keypoint
stage, in a store of the default features and one with regional embeddings too."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lookalike import Collection

from .queries import Query, build

EXPECTED_TIER = {"crop50-any": "near-duplicate", "crop30-any": "near-duplicate", "paste30": "near-duplicate",
                 "viewpoint": "same-object", "stereo-chessboard": "same-object", "edits": ("exact", "near-duplicate")}
# The 13 stereo pairs all show one calibration chessboard: any of its photos is the same
# object, so "right tier at rank 1" accepts any of them; recall@1 asks for the pose's partner.
CHESSBOARDS = ("stereo-left", "chessboard-")


def search_each(collection: Collection, queries: list[Query]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each query searched without and with the keypoint stage, one right after the other
    (a shared machine's load hits both alike): recall@1, right tier at rank 1, latency, and
    the stage's own cost as the median of the paired differences (wall and CPU time)."""
    numbers: dict[str, dict[str, dict[str, list[Any]]]] = {"first-stage": {}, "keypoints": {}}
    for query in queries:
        for name, rerank in (("first-stage", []), ("keypoints", ["keypoints"])):
            started, cpu = time.perf_counter(), time.process_time()
            matches = collection.search(query.path, k=5, rerank=rerank)
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
            best = matches[0] if matches else None
            name_1 = Path(best.image.path).name if best is not None else ""
            hit = name_1 == query.answer
            expected = EXPECTED_TIER[query.group]
            tier_ok = best is not None and (best.tier in expected if isinstance(expected, tuple) else best.tier == expected)
            right_object = hit or (query.group == "stereo-chessboard" and name_1.startswith(CHESSBOARDS))
            row = numbers[name].setdefault(query.group, {"hit": [], "tier": [], "ms": [], "cpu_ms": [], "misses": []})
            row["hit"].append(float(hit))
            row["tier"].append(float(right_object and tier_ok))
            if not (right_object and tier_ok):
                row["misses"].append({"query": query.path.name, "first": name_1, "tier": best.tier if best else None})
            row["ms"].append(seconds * 1000)
            row["cpu_ms"].append(cpu_seconds * 1000)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name, groups in numbers.items():
        results[name] = {}
        for group, n in groups.items():
            base = numbers["first-stage"][group]
            results[name][group] = {
                "queries": len(n["hit"]), "recall@1": round(statistics.mean(n["hit"]), 3),
                "right_tier@1": round(statistics.mean(n["tier"]), 3),
                "p50_ms": round(statistics.median(n["ms"]), 1),
                "p90_ms": round(sorted(n["ms"])[int(0.9 * (len(n["ms"]) - 1))], 1),
                "stage_p50_ms": round(statistics.median([a - b for a, b in zip(n["ms"], base["ms"])]), 1),
                "stage_cpu_p50_ms": round(statistics.median([a - b for a, b in zip(n["cpu_ms"], base["cpu_ms"])]), 1),
                "misses": n["misses"],
            }
    return results


def cache_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*.kp"))


def measure(data: Path, quick: bool, distractors: int, regions: int) -> dict[str, Any]:
    """Indexing and search figures of both stores (the second skipped when `regions` is 0),
    built in a scratch folder that holds the keypoint cache too."""
    from lookalike.features.regions import region_features
    from lookalike.settings import DEFAULT_FEATURES, Settings

    with tempfile.TemporaryDirectory(prefix="lookalike-crops-") as scratch:
        work = Path(scratch)
        os.environ["LOOKALIKE_CACHE_DIR"] = str(work / "cache")
        gallery, queries = build(data, work, quick, distractors)
        images = len(list(gallery.iterdir()))
        results: dict[str, Any] = {"gallery_images": images, "queries": len(queries), "indexing": {}, "search": {}}
        for name, windows in (("global", 0), ("regions", regions)):
            if name == "regions" and not windows:
                continue
            settings = Settings(db=work / f"{name}.db", features=DEFAULT_FEATURES + region_features(windows))
            with Collection(settings=settings) as collection:
                measure_store(collection, name, gallery, queries, work, results)
            print(f"{name}: done", flush=True)
    return results


def measure_store(collection: Collection, name: str, gallery: Path, queries: list[Query], work: Path,
                  results: dict[str, Any]) -> None:
    """Index the gallery into `collection` and search every query, into `results`; for the
    "global" store also what describing keypoints adds, and the keypoint stage on a cold cache."""
    from lookalike.rerank.keypoints import feature_cache
    from lookalike.rerank.keypoints import precompute

    images = results["gallery_images"]
    started = time.perf_counter()
    collection.index([gallery], keypoints=False)
    seconds = time.perf_counter() - started
    info = collection.info()
    results["indexing"][name] = {
        "seconds_per_image": round(seconds / images, 4),
        "vectors_per_image": len(info.features),
        "index_bytes_per_image": round(info.index_bytes / images),
    }
    if name == "global":
        started = time.perf_counter()
        precompute(collection.store)  # what `index --keypoints` adds
        results["indexing"]["keypoints (added)"] = {
            "seconds_per_image": round((time.perf_counter() - started) / images, 4),
            "cache_bytes_per_image": round(cache_bytes(work / "cache") / images),
        }
    collection.search(queries[0].path, k=5, rerank=["keypoints"])  # load the models
    measured = search_each(collection, queries)
    results["search"][name] = measured["first-stage"]
    results["search"][f"{name}+keypoints"] = measured["keypoints"]
    if name == "global":
        feature_cache(collection.store.runtime).clear()
        shutil.rmtree(work / "cache", ignore_errors=True)
        cold = [q for q in queries if q.group in ("crop30-any", "viewpoint")][:20]
        results["keypoints_cold_cache"] = search_each(collection, cold)["keypoints"]
        precompute(collection.store)

"""Speed and memory of lookalike next to the tools people use today, on this machine.

    python -m bench.speed [--quick] [--data bench-data] [--docs docs]

Measures, each method in a fresh child process so that its peak RSS is its own:

- indexing throughput (images/s, end to end) for large camera-like JPEGs (12 MP) and for
  small images, with hashes only and with the default features (CNN embedding included),
  next to ImageHash's pHash and to the ONNX model's own batch throughput;
- query latency p50/p99 (query image to results) at 10k, 100k and 1M stored vectors, with
  the index part on its own and the index's recall@10 against exact search. Stores of that
  size are synthetic: vectors drawn around cluster centres made from real embeddings,
  written straight into a real store through the catalog API;
- `duplicates` on 100k synthetic items next to imagededup's `find_duplicates` on the same
  64-bit pHashes;
- store size per image and peak RSS while indexing.

- the one-machine figures of `bench.scale` (a million items) from the same stores.

Raw numbers go to DATA/results/speed.json, plots to DOCS/bench/, and `run` returns the
Markdown section for docs/benchmarks.md. What is timed, and on what: `bench.timing`; the
plots and the Markdown, from the results alone: `bench.speed.plots`, `bench.speed.report`.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..arguments import benchmark_parser
from ..child_process import run_child
from ..results import json_safe, write_json
from ..scale import measure as scale
from ..scale import report as scale_report
from ..timing.duplicates import task_imagededup, task_lookalike_duplicates
from ..timing.images import ImageSets, prepare_images
from ..timing.indexing import index_photos, task_imagehash, task_onnx_batch
from ..timing.latency import task_query_latency
from ..timing.layout import real_dbs, store_path, stranger_photos
from ..timing.log import log
from ..timing.plan import FULL, HASH_FEATURES, QUICK, Plan
from ..timing.stores import ensure_store
from ..timing.synthetic import hash_realism
from .plots import draw_plots
from .report import render


# A guard, so that a method needing more memory than this machine can spare fails in its own
# process (and is reported as such) instead of pushing other work into the OOM killer.
MEMORY_LIMIT_GB = 12.0
PLOTS = "bench"  # the plots' folder under the docs folder
EXTRAPOLATE_TO = 100_000  # the duplicates size, where imagededup is not measured
IMAGEHASH_ALL = ["average_hash", "dhash", "phash", "whash"]


def measure_indexing(images: ImageSets, work: Path, plan: Plan) -> dict[str, Any]:
    """Every indexing method on every image set, plus the CNN's own batch rate."""
    sets = {"large": images.large, "small": images.small}
    if images.mnist is not None:
        sets["mnist"] = images.mnist
    warmup = str(images.queries[0][0])
    log("the ONNX model alone")
    results: dict[str, Any] = {"onnx_batch": run_child(task_onnx_batch, timeout=300, seconds=plan.onnx_seconds)}
    for name, folder in sets.items():
        log(f"indexing the {name} images")
        results[name] = {
            "imagehash_phash": run_child(task_imagehash, timeout=900, folder=str(folder), hashes=["phash"]),
            "imagehash_all4": run_child(task_imagehash, timeout=900, folder=str(folder), hashes=IMAGEHASH_ALL),
            "lookalike_hashes": index_photos(folder, work / f"{name}-hashes.db", HASH_FEATURES, warmup),
            "lookalike_default": index_photos(folder, work / f"{name}-default.db", None, warmup),
        }
    return results


def measure_stores(work: Path, plan: Plan) -> dict[int, dict[str, Any]]:
    stores = {}
    for size in plan.store_sizes:
        log(f"synthetic store of {size:,} images")
        stores[size] = ensure_store(store_path(work, size), size, real_dbs(work), work / "small-default.db", plan.centres)
    return stores


def measure_latency(work: Path, plan: Plan, images: ImageSets, stores: dict[int, Any]) -> dict[int, Any]:
    queries = [[str(query), str(original.resolve())] for query, original in images.queries]
    strangers = [str(path) for path in stranger_photos(work / "strangers")]
    results = {}
    for size in plan.latency_sizes:
        if "error" in stores[size]:
            results[size] = {"error": f"store not built: {stores[size]['error']}"}
            continue
        log(f"query latency at {size:,} stored images")
        results[size] = run_child(task_query_latency, timeout=3600, db=str(store_path(work, size)), queries=queries,
                                  strangers=strangers)
    return results


def measure_keypoint_latency(work: Path, plan: Plan, images: ImageSets, stores: dict[int, Any]) -> dict[str, Any]:
    """The same queries with `rerank=["keypoints"]`, the stored photos' keypoints described
    first (as `index --keypoints` does) into a cache of this run's own."""
    size = plan.keypoints_size
    if "error" in stores[size]:
        return {"error": f"store not built: {stores[size]['error']}"}
    log(f"query latency with the keypoint stage at {size:,} stored images")
    queries = [[str(query), str(original.resolve())] for query, original in images.queries]
    strangers = [str(path) for path in stranger_photos(work / "strangers")]
    cache = work / "keypoint-cache"
    return run_child(task_query_latency, timeout=3600, db=str(store_path(work, size)), queries=queries,
                     strangers=strangers, rerank=["keypoints"], keypoint_cache=str(cache), recall=False)


def measure_duplicates(work: Path, plan: Plan) -> dict[str, Any]:
    """lookalike at every duplicates size; imagededup at its own (smaller) sizes on the
    same pHashes, with a quadratic fit to reach EXTRAPOLATE_TO."""
    lookalike = {}
    for size in plan.duplicates_sizes:
        log(f"duplicates (lookalike) on {size:,} images")
        lookalike[size] = run_child(
            task_lookalike_duplicates, timeout=3600, memory_limit_gb=MEMORY_LIMIT_GB, db=str(store_path(work, size))
        )
    peer = {}
    for size in plan.imagededup_sizes:
        log(f"duplicates (imagededup) on {size:,} images")
        source = min((s for s in plan.store_sizes if s >= size), default=max(plan.store_sizes))
        peer[size] = run_child(
            task_imagededup, timeout=1800, memory_limit_gb=MEMORY_LIMIT_GB, tree=True,
            db=str(store_path(work, source)), size=size,
        )
    return {
        "lookalike": lookalike,
        "imagededup": peer,
        "imagededup_extrapolated": _extrapolate_quadratic(peer, EXTRAPOLATE_TO),
        "memory_limit_gb": MEMORY_LIMIT_GB,
    }


def _extrapolate_quadratic(measured: dict[int, dict[str, Any]], size: int) -> dict[str, Any] | None:
    """imagededup compares every hash with every other: time ~ a * n^2, fitted by least
    squares on the measured sizes."""
    points = [(n, r["seconds"]) for n, r in measured.items() if "seconds" in r and "error" not in r]
    if not points or size <= max(n for n, _ in points):
        return None
    n = np.array([p[0] for p in points], dtype=float)
    t = np.array([p[1] for p in points])
    a = float(np.sum(t * n**2) / np.sum(n**4))
    return {"size": size, "seconds": round(a * size**2), "fitted_on": [int(x) for x in n]}


def run(data_dir: Path, docs_dir: Path, quick: bool = False) -> str:
    """Measure everything, write DATA/results/speed.json and DOCS/img/speed-*.png, and
    return the Markdown section."""
    from lookalike.models import ensure_onnx_model

    plan = QUICK if quick else FULL
    started = time.perf_counter()
    load_before = os.getloadavg()
    root = Path(data_dir) / "speed"
    work = root / ("work-quick" if quick else "work")
    work.mkdir(parents=True, exist_ok=True)
    log("preparing the test images")
    images = prepare_images(root, plan)
    ensure_onnx_model()  # convert once here, not in racing children
    results: dict[str, Any] = {
        "quick": quick, "plan": asdict(plan), "cpu_count": os.cpu_count(), "images": images.describe(),
    }
    results["indexing"] = measure_indexing(images, work, plan)
    results["stores"] = measure_stores(work, plan)
    results["hash_realism"] = hash_realism(real_dbs(work), plan.centres)
    results["latency"] = measure_latency(work, plan, images, results["stores"])
    results["latency_keypoints"] = measure_keypoint_latency(work, plan, images, results["stores"])
    results["duplicates"] = measure_duplicates(work, plan)
    results["scale"] = scale.measure(work, plan, results)
    results["machine_load"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    results["seconds"] = round(time.perf_counter() - started, 1)
    results = json_safe(results)
    write_json(results, Path(data_dir) / "results" / "speed.json")
    plots = draw_plots(results, Path(docs_dir) / PLOTS)
    log(f"done in {results['seconds'] / 60:.1f} minutes")
    return render(results, plots) + "\n" + scale_report.render(results)


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.speed", "lookalike speed and memory benchmark",
                              quick="tiny sizes, under a minute")
    args = parser.parse_args(argv)
    print(run(args.data, args.docs, quick=args.quick))

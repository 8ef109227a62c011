"""A million images on one machine (issue 6): the embedded store past its exact-search limit.

    python -m bench.scale [--quick] [--data bench-data] [--docs docs]

Builds (or reuses) a store of 1,000,000 items with every default feature (1280-d
EfficientNet-Lite0 embeddings, four 64-bit hashes, colour, texture; synthetic vectors with
the cluster structure of real photos, see `bench.timing.synthetic`) and prints, against the
issue's targets:

- peak RSS of a process serving searches from it (the store open, model loaded, queries run);
- recall@10 of the embedding index (IVF cells over 8-bit codes, candidates re-ranked
  exactly from the catalog) against exact search, and the index part's latency;
- `duplicates` over all of it: time and peak RSS;
- how many duplicate groups the scan finds (nearest neighbours in the compressed indexes)
  next to every pair within reach in exact indexes, on a smaller store;
- what the store is on disk, and what building it cost.

`make bench` runs this as part of the speed benchmark (the stores are shared); this command
runs only what the figures need and writes DATA/results/scale.json.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..arguments import benchmark_parser
from ..child_process import run_child
from ..results import json_safe, write_json
from ..timing.duplicates import task_lookalike_duplicates
from ..timing.images import prepare_images
from ..timing.indexing import ensure_real_stores
from ..timing.latency import task_query_latency
from ..timing.layout import real_dbs, store_path
from ..timing.log import log
from ..timing.plan import FULL, QUICK
from ..timing.stores import ensure_store
from .measure import measure
from .report import render


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.scale", "lookalike: a million images on one machine",
                              quick="10,000 items, a smoke test")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    root = args.data / "speed"
    work = root / ("work-quick" if args.quick else "work")
    work.mkdir(parents=True, exist_ok=True)
    images = prepare_images(root, plan)
    ensure_real_stores(images, work)
    stores = {}
    for size in sorted({plan.scale_size, plan.group_recall_size}):
        log(f"synthetic store of {size:,} images")
        stores[size] = ensure_store(store_path(work, size), size, real_dbs(work), work / "small-default.db", plan.centres)
    queries = [[str(query), str(original.resolve())] for query, original in images.queries]
    log(f"serving {plan.scale_size:,}")
    latency = run_child(task_query_latency, timeout=3600, db=str(store_path(work, plan.scale_size)), queries=queries)
    log(f"duplicates over {plan.scale_size:,}")
    duplicates = run_child(task_lookalike_duplicates, timeout=3600, db=str(store_path(work, plan.scale_size)))
    results: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "stores": stores,
        "latency": {plan.scale_size: latency},
        "duplicates": {"lookalike": {plan.scale_size: duplicates}},
    }
    results["scale"] = measure(work, plan, results)
    results["seconds"] = round(time.perf_counter() - started, 1)
    write_json(json_safe(results["scale"]), args.data / "results" / "scale.json")
    print(render(results))

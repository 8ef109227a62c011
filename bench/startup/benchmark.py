"""Issue 20: how fast lookalike starts and serves thumbnails, on this machine.

    python -m bench.startup [--quick] [--data bench-data] [--docs docs]

Measures, each command a fresh process (`bench.startup.commands`):

- `lookalike --help`, `lookalike info` and `lookalike remove` (a stored image, from a fresh
  copy of the store each run) next to a bare `python -c 'import numpy, PIL.Image'`: median
  and p90 of RUNS processes each, and their ratio to the bare import;
- a cold `lookalike search` of one image (model loaded in the process; the ONNX models
  converted in the cache beforehand) on a store of 10,000 images: the speed benchmark's
  synthetic store (`bench.timing.stores`, in its folders under the data dir, built from its
  real photo stores if missing, reused if there), with a photo that has no copy stored and
  with an edited copy of a stored one, and the first on the real photo store the synthetic
  one is modelled on (every default feature, the copy descriptor included);
- thumbnails from a real `lookalike serve` over scikit-image's samples as 4096-pixel JPEGs
  (`bench.startup.gallery`, `bench.startup.thumbnails`): p50 and p99 of the first request of
  each (made then) and of repeated ones (cached).

Raw numbers go to DATA/results/startup.json and the section to DATA/results/startup.md;
`run` returns it for docs/benchmarks.md (`bench.startup.report` writes it from the results).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..arguments import benchmark_parser
from ..results import json_safe, write_json
from ..timing.images import MISSING_SOURCES, photo_sources, prepare_images
from ..timing.indexing import ensure_real_stores
from ..timing.layout import real_dbs, store_path, stranger_photos
from ..timing.plan import FULL as SPEED_FULL
from ..timing.plan import QUICK as SPEED_QUICK
from ..timing.stores import ensure_store
from .commands import child_environment, lookalike_command, time_command, venv_executable
from .gallery import LONG_SIDE, copy_store, index_gallery, make_large_samples
from .report import TARGET_SEARCH_SIZE, render, targets
from .thumbnails import measure_thumbnails


@dataclass(frozen=True)
class Plan:
    runs: int  # fresh processes per command (after one untimed warm-up)
    search_runs: int  # cold searches per store
    store_size: int  # images in the store the cold search runs on (the issue's: 10,000)
    gallery_images: int  # scikit-image samples in the thumbnail store (at most 18)
    thumbnail_rounds: int  # cached requests of every thumbnail


FULL = Plan(runs=15, search_runs=7, store_size=TARGET_SEARCH_SIZE, gallery_images=18, thumbnail_rounds=20)
QUICK = Plan(runs=5, search_runs=3, store_size=1_000, gallery_images=6, thumbnail_rounds=10)


def log(message: str) -> None:
    print(f"[startup {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure_commands(lookalike: list[str], gallery_db: Path, victim: Path, scratch: Path, env: dict[str, str],
                     runs: int) -> dict[str, Any]:
    """The bare import and the commands that need no model, each `runs` fresh processes;
    `remove` removes `victim` (a stored file) from a fresh copy of the store each time."""
    python = str(venv_executable("python"))
    removed = scratch / "remove.db"
    commands = {
        "bare_import": ([python, "-c", "import numpy, PIL.Image"], None),
        "help": ([*lookalike, "--help"], None),
        "info": ([*lookalike, "--db", str(gallery_db), "info"], None),
        "remove": ([*lookalike, "--db", str(removed), "remove", str(victim)], lambda: copy_store(gallery_db, removed)),
    }
    results: dict[str, Any] = {}
    for name, (argv, before) in commands.items():
        log(f"{name}: {runs} fresh processes")
        results[name] = time_command(argv, env, runs, cwd=scratch, before=before)
    bare = results["bare_import"].get("median_s")
    for name in ("help", "info", "remove"):
        if bare and "median_s" in results[name]:
            results[name]["ratio_to_bare"] = round(results[name]["median_s"] / bare, 2)
    return results


def prepare_search_stores(data_dir: Path, quick: bool, size: int) -> dict[str, Any]:
    """The speed benchmark's real photo stores and its synthetic store of `size` images,
    built as `bench.scale` builds them (reused when there), and two queries: a photo with
    no copy stored (every rotation goes through the CNN: the model is loaded) and an edited
    copy of one of the photos planted in both stores."""
    if not photo_sources():
        return {"error": MISSING_SOURCES}
    speed_plan = SPEED_QUICK if quick else SPEED_FULL
    root = Path(data_dir) / "speed"
    work = root / ("work-quick" if quick else "work")
    work.mkdir(parents=True, exist_ok=True)
    log("the speed benchmark's photos and real stores")
    images = prepare_images(root, speed_plan)
    ensure_real_stores(images, work)
    log(f"synthetic store of {size:,} images")
    built = ensure_store(store_path(work, size), size, real_dbs(work), work / "small-default.db", speed_plan.centres)
    return {"synthetic_db": str(store_path(work, size)), "real_db": str(work / "small-default.db"),
            "stranger": str(stranger_photos(work / "strangers")[0]), "copy": str(images.queries[0][0]),
            "store": built}


# (store, query) of each cold search: the first is the target's (the model loaded, the
# issue's store size); then a query the hashes alone may settle, and a store with every
# default feature (the copy descriptor's model loaded too).
COLD_SEARCHES = {"synthetic": ("synthetic", "stranger"), "synthetic_copy": ("synthetic", "copy"),
                 "real": ("real", "stranger")}


def measure_cold_search(lookalike: list[str], stores: dict[str, Any], scratch: Path, env: dict[str, str],
                        runs: int) -> dict[str, Any]:
    if "error" in stores:
        return {"error": stores["error"]}
    if "error" in stores["store"]:
        return {"error": f"store not built: {stores['store']['error']}"}
    results: dict[str, Any] = {"store": stores["store"]}
    for name, (store, query) in COLD_SEARCHES.items():
        db = stores[f"{store}_db"]
        log(f"cold search on the {store} store, {query} query: {runs} fresh processes")
        results[name] = time_command([*lookalike, "--db", db, "search", stores[query], "-k", "10"], env, runs,
                                     cwd=scratch)
        results[name].update(store=store, query=query, query_file=stores[query], images=_stored_images(db))
    return results


def _stored_images(db: str) -> int:
    from lookalike.catalog import Catalog

    catalog = Catalog(Path(db))
    try:
        return len(catalog.image_ids())
    finally:
        catalog.close()


def run(data_dir: Path, docs_dir: Path, quick: bool = False, runs: int | None = None) -> str:
    """Measure, write DATA/results/startup.json and .md, return the Markdown section.
    `runs` replaces the plan's number of processes per command and of cold searches."""
    plan = QUICK if quick else FULL
    runs_per_command, search_runs = (plan.runs, plan.search_runs) if runs is None else (runs, runs)
    started = time.perf_counter()
    load_before = os.getloadavg()
    log(f"load average before: {', '.join(f'{x:.2f}' for x in load_before)}")
    data_dir = Path(data_dir).resolve()  # the commands run in a scratch folder: every path they get is absolute
    root = data_dir / "startup"
    scratch = root / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    pycache = root / "pycache"
    env = child_environment(pycache)
    lookalike = lookalike_command()
    from lookalike.models import ensure_onnx_model

    ensure_onnx_model()  # both models converted once, here: a cold search loads them, never converts
    ensure_onnx_model("copy_lite0")

    log(f"{plan.gallery_images} scikit-image samples as {LONG_SIDE}-pixel JPEGs, indexed")
    samples = make_large_samples(root / "gallery", plan.gallery_images)
    gallery_db = root / ("gallery-quick.db" if quick else "gallery.db")
    index_gallery(lookalike, gallery_db, samples, env)
    results: dict[str, Any] = {
        "quick": quick,
        "plan": {**asdict(plan), "runs": runs_per_command, "search_runs": search_runs},
        "cpu_count": os.cpu_count(),
        "niceness": os.nice(0),
        "pycache_prefix": str(pycache),
        "lookalike": lookalike,
        "python": str(venv_executable("python")),
    }
    results["commands"] = measure_commands(lookalike, gallery_db, samples[0].resolve(), scratch, env,
                                           runs_per_command)
    stores = prepare_search_stores(data_dir, quick, plan.store_size)
    results["cold_search"] = {"target_size": TARGET_SEARCH_SIZE, "size": plan.store_size,
                              **measure_cold_search(lookalike, stores, scratch, env, search_runs)}
    log(f"thumbnails of {plan.gallery_images} images from lookalike serve")
    try:
        results["thumbnails"] = measure_thumbnails(lookalike, gallery_db, env, plan.thumbnail_rounds)
    except RuntimeError as error:
        results["thumbnails"] = {"error": str(error)[:500]}
    load_after = os.getloadavg()
    log(f"load average after: {', '.join(f'{x:.2f}' for x in load_after)}")
    results["machine_load"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]}
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = targets(results)
    results = json_safe(results)
    write_json(results, data_dir / "results" / "startup.json")
    section = render(results)
    (data_dir / "results" / "startup.md").write_text(section)
    log(f"done in {results['seconds']:.0f} s")
    return section


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.startup", "lookalike start-up and thumbnail times (issue 20)",
                              quick="a store of 1,000 images and fewer runs, for a smoke run")
    args = parser.parse_args(argv)
    print(run(args.data, args.docs, quick=args.quick))

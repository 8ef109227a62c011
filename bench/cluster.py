"""Indexing into a real Milvus server, in one process and on a Dask cluster of 1 and 2 workers.

    python -m bench.cluster [--quick] [--data bench-data]

Writes photos of scikit-image's samples as distinct 640 x 480 JPEGs (random crops), starts
a Milvus standalone server (the PyPI package `milvus`) and indexes them with every default
feature three ways, each into a fresh collection: `lookalike index` in one process
(`Collection.index`), and `index --cluster local:1` and `local:2` (`lookalike.cluster`;
the wall time includes starting the workers and loading their models). From the one-worker
rate it sizes a cluster for 100 million images and a deadline. `make bench-scale` runs it,
and `python -m bench.run --only cluster` puts its section in docs/benchmarks.md.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .arguments import benchmark_parser
from .markdown import table
from .milvus_server import running_milvus
from .results import json_safe, write_json
from .timing.log import log

SIDE = (640, 480)
FULL_IMAGES, QUICK_IMAGES = 600, 120
SIZING_IMAGES = 100_000_000
DEADLINES_HOURS = (24, 72, 168)


def make_photos(folder: Path, count: int) -> list[Path]:
    """`count` distinct 640 x 480 JPEGs: random crops of scikit-image's colour samples."""
    from skimage import data

    samples = [np.asarray(getattr(data, name)()) for name in ("astronaut", "coffee", "chelsea", "rocket", "cat",
                                                               "hubble_deep_field", "immunohistochemistry")]
    folder.mkdir(parents=True, exist_ok=True)
    random = np.random.default_rng(6)
    paths = []
    for number in range(count):
        picture = Image.fromarray(samples[number % len(samples)]).convert("RGB")
        width, height = picture.size
        crop_w, crop_h = int(width * random.uniform(0.6, 0.95)), int(height * random.uniform(0.6, 0.95))
        left, top = int(random.integers(0, width - crop_w + 1)), int(random.integers(0, height - crop_h + 1))
        path = folder / f"photo-{number:05d}.jpg"
        picture.crop((left, top, left + crop_w, top + crop_h)).resize(SIDE, Image.Resampling.BILINEAR).save(path, quality=90)
        paths.append(path)
    return paths


def measure(folder: Path, url_of: Any, count: int) -> dict[str, Any]:
    from lookalike import Collection, Settings
    from lookalike.cluster import ClusterJob, index_on_cluster

    runs: dict[str, Any] = {}
    log("one process")
    settings = Settings(db=folder.parent / "unused.db", store=url_of("single"))
    started = time.perf_counter()
    with Collection(settings=settings) as collection:
        report = collection.index([folder])
    runs["one process"] = _run(report, time.perf_counter() - started, count)
    for workers in (1, 2):
        log(f"cluster of {workers}")
        settings = Settings(db=folder.parent / "unused.db", store=url_of(f"cluster{workers}"))
        with Collection(settings=settings):
            pass  # the store and its features made, as `lookalike index --cluster` does first
        started = time.perf_counter()
        report = index_on_cluster(settings, [folder], ClusterJob(f"local:{workers}"))
        runs[f"cluster, {workers} worker{'s' * (workers > 1)}"] = _run(report, time.perf_counter() - started, count)
    return runs


def _run(report: Any, seconds: float, count: int) -> dict[str, Any]:
    assert report.indexed == count and not report.skipped, report
    return {"images": report.indexed, "seconds": round(seconds, 1), "images_per_second": round(count / seconds, 2)}


def sizing(per_worker: float) -> list[dict[str, Any]]:
    """Workers (each as fast as this machine's one worker) to index SIZING_IMAGES by each deadline."""
    return [{"hours": hours, "workers": int(np.ceil(SIZING_IMAGES / (per_worker * hours * 3600)))}
            for hours in DEADLINES_HOURS]


def render(results: dict[str, Any]) -> str:
    rows = [[name, f"{run['images']:,}", f"{run['seconds']:.1f}", f"{run['images_per_second']:.1f}"]
            for name, run in results["runs"].items()]
    one, two = (results["runs"][f"cluster, {n}"]["images_per_second"] for n in ("1 worker", "2 workers"))
    single = results["runs"]["one process"]["images_per_second"]
    sizes = [[f"{s['hours']} h", f"{s['workers']:,}"] for s in results["sizing"]]
    return "\n".join([
        "## Cluster",
        "",
        f"`python -m bench.cluster` (also `make bench-scale`): {results['images']:,} distinct 640 x 480 JPEGs, every "
        f"default feature, into a Milvus {results['milvus']} standalone server on this machine "
        f"({results['cpu_count']} cores, shared by the server, the workers and the client). Each run fills a new "
        "collection; a cluster run's time includes starting its workers and loading their models.",
        "",
        table(["run", "images", "seconds", "images/s"], rows),
        "",
        f"Two workers index {two / one:.2f}x as fast as one here: the two cores also run the Milvus server. "
        f"One worker runs at {one / single:.2f}x the rate of one process: Dask starts its workers with the "
        "numeric libraries on one thread (OMP_NUM_THREADS=1), and the cluster's way to use more cores is more "
        "workers.",
        "",
        f"### Sizing: {SIZING_IMAGES:,} images",
        "",
        f"At the one-worker rate ({one:.1f} images/s for one worker process on this 2-core machine, 640 x 480 "
        "JPEGs), workers like it needed for a deadline (decode and features only; the Milvus cluster must "
        "take the writes, see docs/milvus.md):",
        "",
        table(["deadline", "workers"], sizes),
        "",
    ])


def run(data_dir: Path, docs_dir: Path | None = None, quick: bool = False) -> str:
    from importlib.metadata import version

    started = time.perf_counter()
    root = Path(data_dir).resolve() / "cluster"
    count = QUICK_IMAGES if quick else FULL_IMAGES
    folder = root / f"photos-{count}"
    if not folder.exists() or len(list(folder.iterdir())) != count:
        shutil.rmtree(folder, ignore_errors=True)
        make_photos(folder, count)
    server_folder = root / "server"
    shutil.rmtree(server_folder, ignore_errors=True)  # every run starts from empty collections
    with running_milvus(server_folder) as server:
        runs = measure(folder, lambda name: server.url(name, "HNSW"), count)
    one = runs["cluster, 1 worker"]["images_per_second"]
    results = json_safe({"images": count, "quick": quick, "cpu_count": os.cpu_count(), "milvus": version("milvus"),
                         "runs": runs, "sizing": sizing(one), "seconds": round(time.perf_counter() - started, 1)})
    write_json(results, Path(data_dir) / "results" / "cluster.json")
    section = render(results)
    (Path(data_dir) / "results" / "cluster.md").write_text(section)
    return section


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.cluster", "lookalike: indexing into Milvus on a Dask cluster",
                              quick=f"{QUICK_IMAGES} images, a smoke run")
    args = parser.parse_args(argv)
    print(run(args.data, args.docs, quick=args.quick))


if __name__ == "__main__":
    main()

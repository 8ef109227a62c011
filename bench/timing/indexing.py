"""Indexing throughput, each method in a child process of its own: lookalike end to end,
ImageHash as people call it, and the ONNX model alone on ready tensors."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..child_process import current_rss_mb, run_child
from .images import ImageSets
from .layout import PHOTO_SETS, remove_store
from .log import log
from .plan import MODEL


def task_index_lookalike(folder: str, db: str, features: list[str], warmup: str) -> dict[str, Any]:
    """Index `folder` end to end through the public API into a new store at `db`. One
    image is indexed into a throwaway store first, so the one-off model load is reported
    apart from the steady rate."""
    import tempfile

    from lookalike import Collection, Settings

    settings = Settings(db=Path(db), features=tuple(features))
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        with Collection(settings=settings.with_db(Path(scratch) / "warmup.db")) as collection:
            collection.add([warmup])
        warmup_seconds = time.perf_counter() - started
    rss_before = current_rss_mb()
    with Collection(settings=settings) as collection:
        started, cpu = time.perf_counter(), time.process_time()
        report = collection.index([folder])
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        info = collection.info()
    files = report.indexed + report.linked + len(report.skipped)
    return {
        "images": files,
        "stored": report.indexed,
        "skipped": len(report.skipped),
        "seconds": round(seconds, 3),
        "images_per_s": round(files / seconds, 2),
        "cpu_ms_per_image": round(1000 * cpu / max(files, 1), 2),
        "warmup_seconds": round(warmup_seconds, 2),
        "rss_before_mb": round(rss_before, 1),
        "catalog_bytes": info.db_bytes,
        "index_bytes": info.index_bytes,
        "bytes_per_image": round((info.db_bytes + info.index_bytes) / max(report.indexed, 1)),
    }


def task_imagehash(folder: str, hashes: list[str]) -> dict[str, Any]:
    """ImageHash the way people call it: open with PIL, then imagehash.phash(image)
    (and the other hashes of the same opened image, when asked)."""
    import imagehash
    from PIL import Image

    functions = [getattr(imagehash, name) for name in hashes]
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".png"))
    with Image.open(files[0]) as image:  # warm-up: imports and first-call setup
        [function(image) for function in functions]
    rss_before = current_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        with Image.open(path) as image:
            for function in functions:
                function(image)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "images": len(files),
        "seconds": round(seconds, 3),
        "images_per_s": round(len(files) / seconds, 2),
        "cpu_ms_per_image": round(1000 * cpu / len(files), 2),
        "rss_before_mb": round(rss_before, 1),
    }


def task_onnx_batch(seconds: float, batch: int = 16) -> dict[str, Any]:
    """The CNN alone: lookalike's onnxruntime session on ready 224x224 tensors, no decoding."""
    from lookalike.models import get_model_spec, load_session

    spec = get_model_spec(MODEL)
    session = load_session(MODEL)
    pixels = np.random.default_rng(0).uniform(-1, 1, (batch, 3, spec.image_size, spec.image_size)).astype(np.float32)
    for _ in range(2):
        session.run(["embedding"], {"pixels": pixels})
    runs, started, cpu = 0, time.perf_counter(), time.process_time()
    while runs < 3 or time.perf_counter() - started < seconds:
        session.run(["embedding"], {"pixels": pixels})
        runs += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "batch": batch,
        "batches": runs,
        "seconds": round(elapsed, 3),
        "images_per_s": round(runs * batch / elapsed, 2),
        "cpu_ms_per_image": round(1000 * cpu / (runs * batch), 2),
    }


def index_photos(folder: Path, db: Path, features: tuple[str, ...] | None, warmup: str) -> dict[str, Any]:
    """`task_index_lookalike` into a new store at `db` (default features unless `features`)."""
    from lookalike.settings import DEFAULT_FEATURES

    remove_store(db)
    return run_child(
        task_index_lookalike, timeout=1800, folder=str(folder), db=str(db),
        features=list(features or DEFAULT_FEATURES), warmup=warmup,
    )


def ensure_real_stores(images: ImageSets, work: Path) -> None:
    """Index the real photo sets with the default features, unless done (bench.scale alone)."""
    for name in PHOTO_SETS:
        if not (work / f"{name}-default.db").exists():
            log(f"indexing the {name} images")
            index_photos(getattr(images, name), work / f"{name}-default.db", None, str(images.queries[0][0]))

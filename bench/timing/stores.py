"""Stores of up to a million items for the speed and scale benchmarks: the really indexed
photos plus synthetic vectors (`bench.timing.synthetic`), written straight into a real store
through the catalog API, in a child process; built once and reused while unchanged."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..child_process import run_child
from .layout import remove_store
from .plan import EMBEDDING
from .synthetic import SYNTHETIC_FEATURES, RealVectors, SyntheticVectors

SYNTHETIC_VERSION = "3"
CHUNK = 20_000


def task_build_store(db: str, size: int, real_dbs: list[str], planted_db: str, centres: int) -> dict[str, Any]:
    """A store of `size` images: the really indexed small images (kept with their real
    paths, so that a query can find its original) and synthetic items for the rest, written
    through the catalog API, then the indexes built as `save_indexes` decides."""
    from lookalike import Collection, Settings

    planted = RealVectors.load(Path(planted_db))
    generator = SyntheticVectors(RealVectors.join([RealVectors.load(Path(p)) for p in real_dbs]), centres)
    started = time.perf_counter()
    copies = 0
    with Collection(settings=Settings(db=Path(db), features=SYNTHETIC_FEATURES)) as collection:
        store = collection.store
        with store.writing():
            _insert_images(store, planted.vectors, planted.paths, planted.sha256)
            for start in range(len(planted), size, CHUNK):
                count = min(CHUNK, size - start)
                vectors, planted_copies = generator.chunk(start, count)
                names = [f"/synthetic/{start + i:07d}.jpg" for i in range(count)]
                _insert_images(store, vectors, names, [f"synthetic-{start + i}" for i in range(count)])
                copies += planted_copies
            inserted = time.perf_counter()
            # The catalog moved on behind the in-memory indexes: the store rebuilds them from
            # it, choosing the index kind by the catalog's size, as after another process wrote.
            store.refresh()
        indexed = time.perf_counter()
        factories = {name: index.factory for name, index in store.indexes.items()}
        catalog_bytes, index_bytes = store.disk_usage()
    return {
        "size": size,
        "real_images": len(planted),
        "planted_copies": copies,
        "insert_seconds": round(inserted - started, 1),
        "index_build_seconds": round(indexed - inserted, 1),
        "factories": factories,
        "catalog_bytes": catalog_bytes,
        "index_bytes": index_bytes,
        "bytes_per_image": round((catalog_bytes + index_bytes) / size),
        "embedding_noise": round(generator.embedding_noise, 4),
    }


def _insert_images(store: Any, vectors: dict[str, np.ndarray], paths: list[str], sha256: list[str]) -> None:
    catalog = store.catalog
    with catalog.transaction():
        ids = []
        for path, sha in zip(paths, sha256):
            image_id = catalog.insert_image(sha, 3_000_000, 4000, 3000, "JPEG", None)
            catalog.record_path(path, image_id, 0, 3_000_000)
            ids.append(image_id)
        for spec in store.specs:
            catalog.put_vectors(spec.name, ids, vectors[spec.name])


def ensure_store(path: Path, size: int, real_dbs: list[Path], planted_db: Path, centres: int) -> dict[str, Any]:
    """Build the synthetic store unless one made the same way, with the index kind the
    store would choose today, is already there."""
    marker = path.with_suffix(".json")
    key = {"size": size, "version": SYNTHETIC_VERSION, "centres": centres, "planted": str(planted_db),
           "embedding_index": _index_kind(size)}
    if marker.exists() and path.exists():
        built = json.loads(marker.read_text())
        if built.get("key") == key:
            return built["result"]
    remove_store(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = run_child(
        task_build_store, timeout=3600, db=str(path), size=size,
        real_dbs=[str(p) for p in real_dbs], planted_db=str(planted_db), centres=centres,
    )
    if "error" not in result:
        marker.write_text(json.dumps({"key": key, "result": result}, indent=1))
    return result


def _index_kind(size: int) -> str:
    from lookalike.features.registry import get_spec
    from lookalike.settings import Settings
    from lookalike.vectors import choose_factory

    return choose_factory(get_spec(EMBEDDING), size, Settings().max_exact_vectors)

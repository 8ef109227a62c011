"""Copy a collection from one store to another (SQLite <-> Milvus) without re-embedding:
images, paths, labels, names, every feature's vectors and the calibrated thresholds.
Re-running it copies only what the target does not hold yet."""

from __future__ import annotations

from typing import Callable

from .errors import FeatureMismatch
from .store import CALIBRATED_SETTINGS, NewImage, PathLink, Store

BATCH = 500


def migrate(source: Store, target: Store, on_progress: Callable[[int], None] | None = None) -> int:
    """Copy every image of `source` missing from `target`; returns how many were copied."""
    if {(s.name, s.version) for s in source.specs} != {(s.name, s.version) for s in target.specs}:
        raise FeatureMismatch(
            f"{target.location} has features {[s.name for s in target.specs]}, "
            f"{source.location} has {[s.name for s in source.specs]}: migrate into a new store"
        )
    copied = 0
    ids = source.image_ids()
    with target.writing():
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            copied += _copy_batch(source, target, chunk)
            if on_progress:
                on_progress(len(chunk))
        meta = source.meta()
        target.set_meta({key: meta[key] for key in CALIBRATED_SETTINGS if key in meta})
    return copied


def _copy_batch(source: Store, target: Store, chunk: list[int]) -> int:
    records = source.images(chunk)
    new: list[NewImage] = []
    links: list[PathLink] = []
    rows: list[int] = []
    for row, image_id in enumerate(chunk):
        record = records[image_id]
        states = [(path, source.path_state(path)) for path in record.paths]
        files = [PathLink(path, state[1], state[2], record.sha256) for path, state in states if state]
        if not files or target.image_id_for_sha256(record.sha256) is not None:
            links += files
            continue
        first = files[0]
        new.append(NewImage(first.path, first.mtime_ns, first.size, record.sha256, record.width, record.height,
                            record.format, record.label, record.name))
        links += files[1:]
        rows.append(row)
    vectors = {spec.name: source.vectors(spec.name, chunk)[rows] for spec in source.specs}
    target.add_batch(new, vectors, links)
    return len(new)

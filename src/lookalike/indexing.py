"""scan -> read -> decode -> extract -> catalog + vector indexes, in crash-safe batches.

Each batch commits in one SQLite transaction, so an interrupted run keeps every finished
batch and a re-run skips those files (same path, size and mtime). A file whose content is
already stored (same SHA-256) only gets its path recorded. A bad file is skipped with its
reason and the run goes on.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .decode import Decoded, decode_image, read_bytes
from .errors import DecodeError, NotInCollection
from .features.base import needed_side
from .features.registry import get_extractor
from .records import IndexReport
from .scan import FileRecord, label_for, scan
from .store import Store

ProgressCallback = Callable[[int], None]


@dataclass
class _Pending:
    """A decoded new image waiting for its batch's features and commit."""

    file: FileRecord
    sha256: str
    decoded: Decoded
    label: str | None


def list_files(roots: Iterable[str | Path]) -> list[FileRecord]:
    return list(scan(roots))


def index_files(
    store: Store,
    files: Sequence[FileRecord],
    *,
    label_from: str | None = None,
    label: str | None = None,
    labels: Mapping[str, str | None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> IndexReport:
    """Index `files` into the store; see the module docstring. A file's label comes from
    `labels[path]`, else `label`, else `label_from`. Saves the indexes at the end, also
    when interrupted."""
    report = IndexReport()
    started = time.perf_counter()
    batch_size = store.settings.batch_size
    try:
        with store.writing():
            for start in range(0, len(files), batch_size):
                batch = files[start : start + batch_size]
                _index_batch(store, batch, _labeller(label_from, label, labels or {}), report)
                if on_progress:
                    on_progress(len(batch))
    finally:
        report.seconds = time.perf_counter() - started
    return report


def index_folders(
    store: Store,
    roots: Sequence[str | Path],
    *,
    label_from: str | None = None,
    prune: bool = False,
    on_progress: ProgressCallback | None = None,
) -> IndexReport:
    """Index every image below `roots`; with `prune`, forget files under them that are gone."""
    report = index_files(store, list_files(roots), label_from=label_from, on_progress=on_progress)
    if prune:
        report.removed = prune_missing(store, roots)
    return report


def prune_missing(store: Store, roots: Sequence[str | Path]) -> int:
    """Remove recorded paths under `roots` whose files no longer exist."""
    gone = [
        path
        for root in roots
        if Path(root).is_dir()
        for path in store.catalog.paths_under(str(Path(root).resolve()))
        if not Path(path).exists()
    ]
    dropped: list[int] = []
    with store.writing():
        with store.catalog.transaction():
            for path in gone:
                image_id = store.catalog.remove_path(path)
                if image_id is not None:
                    dropped.append(image_id)
        store.remove_from_indexes(dropped)
    return len(gone)


def remove(store: Store, keys: Sequence[str | int]) -> list[int]:
    """Remove images by id or by path (a path removes that path, and the image with its
    last path). All keys are checked first: nothing is removed if one is unknown."""
    catalog = store.catalog
    resolved: list[tuple[str, str | int]] = []
    for key in keys:
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit() and not Path(key).exists()):
            if catalog.image(int(key)) is None:
                raise NotInCollection(key)
            resolved.append(("id", int(key)))
        else:
            path = str(Path(key).resolve())
            if catalog.path_state(path) is None:
                raise NotInCollection(key)
            resolved.append(("path", path))
    dropped: list[int] = []
    with store.writing():
        with catalog.transaction():
            for kind, value in resolved:
                if kind == "id" and catalog.remove_image(int(value)):
                    dropped.append(int(value))
                elif kind == "path":
                    image_id = catalog.remove_path(str(value))
                    if image_id is not None:
                        dropped.append(image_id)
        store.remove_from_indexes(dropped)
    return dropped


def _labeller(
    label_from: str | None, label: str | None, labels: Mapping[str, str | None]
) -> Callable[[str], str | None]:
    def label_of(path: str) -> str | None:
        if path in labels:
            return labels[path]
        return label if label is not None else label_for(path, label_from)

    return label_of


def _index_batch(
    store: Store,
    batch: Sequence[FileRecord],
    label_of: Callable[[str], str | None],
    report: IndexReport,
) -> None:
    catalog = store.catalog
    pending: dict[str, _Pending] = {}
    links: list[tuple[FileRecord, str]] = []  # files whose content is stored or pending
    for file in batch:
        state = catalog.path_state(file.path)
        if state is not None and state[1:] == (file.mtime_ns, file.size):
            report.unchanged += 1
            continue
        try:
            data = read_bytes(file.path, store.settings.max_bytes)
            sha256 = hashlib.sha256(data).hexdigest()
            if sha256 in pending or catalog.image_id_for_sha256(sha256) is not None:
                links.append((file, sha256))
                continue
            decoded = decode_image(
                data, file.path, min_side=needed_side(store.specs), max_pixels=store.settings.max_pixels
            )
        except DecodeError as exc:
            report.skipped.append((file.path, exc.reason))
            continue
        pending[sha256] = _Pending(file, sha256, decoded, label_of(file.path))
    items = list(pending.values())
    vectors = _extract_all(store, [item.decoded.image for item in items])
    dropped: list[int] = []
    with catalog.transaction():
        ids = [_insert(store, item, dropped) for item in items]
        for spec in store.specs:
            catalog.put_vectors(spec.name, ids, vectors[spec.name])
        for file, sha256 in links:
            image_id = catalog.image_id_for_sha256(sha256)
            _record(catalog.record_path(file.path, image_id, file.mtime_ns, file.size), dropped)
    store.remove_from_indexes(dropped)
    store.add_to_indexes(ids, vectors)
    report.indexed += len(items)
    report.linked += len(links)


def _insert(store: Store, item: _Pending, dropped: list[int]) -> int:
    decoded = item.decoded
    image_id = store.catalog.insert_image(
        item.sha256, item.file.size, decoded.width, decoded.height, decoded.format, item.label
    )
    _record(store.catalog.record_path(item.file.path, image_id, item.file.mtime_ns, item.file.size), dropped)
    return image_id


def _record(dropped_id: int | None, dropped: list[int]) -> None:
    if dropped_id is not None:
        dropped.append(dropped_id)


def _extract_all(store: Store, images: list) -> dict[str, np.ndarray]:
    return {spec.name: get_extractor(spec.name).extract_batch(images) for spec in store.specs}



"""Copy a collection from one store to another (SQLite <-> Milvus) without re-embedding:
images, paths, labels, names, every feature's vectors and the calibrated thresholds.
Re-running it copies only what the target does not hold yet. A video's frames stay tied to
their video; a target that keeps no video frames (Milvus) gets each video's poster frame
alone, as a picture."""

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
    videos = source.images(sorted({r.video_id for r in records.values() if r.video_id is not None} - set(records)))
    videos.update(records)
    for row, image_id in enumerate(chunk):
        record = records[image_id]
        poster = record.video_id is None or record.video_id == record.id
        if not poster and not target.supports_video:
            continue
        states = source.path_states(record.paths)
        files = [PathLink(path, state[1], state[2], record.sha256) for path, state in states.items()]
        if not poster:  # a video's other frame: its video's files, no path of its own
            files = files[:1]
        if not files or target.image_id_for_sha256(record.sha256) is not None:
            links += files if poster else []
            continue
        first = files[0]
        frame = {} if record.video_id is None or not target.supports_video else {
            "seconds": record.seconds, "video_sha256": videos[record.video_id].sha256}
        new.append(NewImage(first.path, first.mtime_ns, first.size, record.sha256, record.width, record.height,
                            record.format, record.label, record.name, **frame))
        links += files[1:] if poster else []
        rows.append(row)
    vectors = {spec.name: source.vectors(spec.name, chunk)[rows] for spec in source.specs}
    target.add_batch(new, vectors, links)
    return len(new)

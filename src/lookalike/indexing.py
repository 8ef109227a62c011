"""scan -> read -> decode -> extract -> catalog + vector indexes, in crash-safe batches.

Each batch commits in one SQLite transaction, so an interrupted run keeps every finished
batch and a re-run skips those files (same path, size and mtime). A file whose content is
already stored (same SHA-256) only gets its path recorded. A bad file is skipped with its
reason and the run goes on. A video (`lookalike.video`) is indexed as its sampled frames, in
a batch of its own: all its frames are stored together or none.
"""

from __future__ import annotations

import hashlib
import numbers
import time
import zlib
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from PIL import Image

from .decode import decode_image, pixel_digest, read_bytes
from .errors import DecodeError, NotInCollection
from .features.base import in_input_mode, needed_side
from .features.hashes import hash_detail
from .layout import Layout
from .records import ImageRecord, IndexReport
from .rerank import KEYPOINTS_STAGE, Reranker, get_rerankers, reranker_names
from .scan import FileRecord, Unreadable, is_video, label_for, scan
from .store import NewImage, PathLink, Store
from .thumbnails import Thumbnails
from .video import VideoLimits, file_sha256, frame_sha256, sample_frames

ProgressCallback = Callable[[int], None]


def list_files(roots: Iterable[str | Path], shard: tuple[int, int] | None = None) -> list[FileRecord | Unreadable]:
    """The files below `roots` (this shard's share), and those that cannot be looked at."""
    roots = [Path(root).expanduser() for root in roots]
    files = scan(roots)
    return [f for f in files if in_shard(f.path, roots, shard)] if shard else list(files)


def in_shard(path: str, roots: Sequence[str | Path], shard: tuple[int, int]) -> bool:
    """Split files between n indexing processes (on n machines): file -> shard by a hash of
    its path relative to its root, so machines that mount the photos at different places
    still agree."""
    number, count = shard
    relative = path
    for root in roots:
        resolved = str(Path(root).resolve())
        if path.startswith(resolved.rstrip("/") + "/"):
            relative = path[len(resolved) :]
            break
    return zlib.crc32(relative.encode()) % count == number


def index_files(
    store: Store,
    files: Sequence[FileRecord | Unreadable],
    *,
    label_from: str | None = None,
    label: str | None = None,
    labels: Mapping[str, str | None] | None = None,
    names: Mapping[str, str] | None = None,
    on_progress: ProgressCallback | None = None,
    keypoints: bool | None = None,
) -> IndexReport:
    """Index `files` into the store; see the module docstring. A file's label comes from
    `labels[path]`, else `label`, else `label_from`; its display name from `names[path]`,
    else the file name. `keypoints` (default: when `Settings.rerank` has the keypoints
    stage): describe new images' local features into the keypoint cache now, so searches
    never decode a candidate. Saves the indexes at the end, also when interrupted."""
    stages = _describing_stages(store, keypoints)
    report = IndexReport(skipped=[(file.path, file.reason) for file in files if isinstance(file, Unreadable)])
    files = [file for file in files if isinstance(file, FileRecord)]
    started = time.perf_counter()
    try:
        with store.writing():
            for batch in _batches(files, store.settings.batch_size):
                _index_batch(store, batch, _labeller(label_from, label, labels or {}), names or {}, report, stages)
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
    shard: tuple[int, int] | None = None,
    on_progress: ProgressCallback | None = None,
    keypoints: bool | None = None,
) -> IndexReport:
    """Index every image below `roots`; with `prune`, forget files under them that are gone;
    with `shard=(i, n)`, only this process's share (see `in_shard`)."""
    roots = [Path(root).expanduser() for root in roots]
    files = list_files(roots, shard)
    report = index_files(store, files, label_from=label_from, on_progress=on_progress, keypoints=keypoints)
    if prune:
        report.removed = prune_missing(store, roots)
    return report


def prune_missing(store: Store, roots: Sequence[str | Path]) -> int:
    """Remove recorded paths under `roots` whose files no longer exist."""
    gone = [
        path
        for root in roots
        if Path(root).is_dir()
        for path in store.paths_under(str(Path(root).resolve()))
        if not Path(path).exists()
    ]
    with store.writing():
        ids = [state[0] for state in map(store.path_state, gone) if state is not None]
        before = store.images(store.with_frames(ids))
        forget_removed(store, before, store.remove_paths(gone))
    return len(gone)


def remove(store: Store, keys: Sequence[str | Path | int]) -> list[int]:
    """Remove images by id (an int) or by path (a str or Path: that path goes, and the image
    with its last path). All keys are checked first: nothing is removed if one is unknown."""
    ids: list[int] = []
    paths: list[str] = []
    for key in keys:
        if isinstance(key, numbers.Integral):  # numpy's integers too
            if store.image(int(key)) is None:
                raise NotInCollection(key)
            ids.append(int(key))
        else:
            path = str(Path(key).resolve())
            if store.path_state(path) is None:
                raise NotInCollection(key)
            paths.append(path)
    with store.writing():
        path_ids = [state[0] for state in map(store.path_state, paths) if state is not None]
        before = store.images(store.with_frames(ids + path_ids))
        removed = store.remove_images(ids) + store.remove_paths(paths)
        forget_removed(store, before, removed)
        return removed


def forget_removed(store: Store, records: Mapping[int, ImageRecord], removed: Sequence[int]) -> None:
    """Delete the kept thumbnails of the images that left the collection and tell every
    re-ranking stage (the keypoint stage deletes their cache files, which may exist whatever
    the settings say now)."""
    gone = [records[image_id] for image_id in removed if image_id in records]
    if gone:
        Thumbnails(Layout(store.settings.db).thumbnails, store.settings).forget(gone)
        for stage in get_rerankers(reranker_names(), store.runtime):
            stage.on_remove(gone)


def _describing_stages(store: Store, keypoints: bool | None) -> list[Reranker]:
    """The re-ranking stages told about new images (`Reranker.on_index`): the store's own
    (`Settings.rerank`), with the keypoint stage added (`keypoints=True`) or left out
    (`keypoints=False`)."""
    names = [name for name in store.settings.rerank if not (keypoints is False and name == KEYPOINTS_STAGE)]
    if keypoints and KEYPOINTS_STAGE not in names:
        names.append(KEYPOINTS_STAGE)
    return get_rerankers(names, store.runtime)


def _batches(files: Sequence[FileRecord], size: int) -> Iterable[list[FileRecord]]:
    """Pictures `size` at a time; each video alone (its frames are a batch already)."""
    pictures: list[FileRecord] = []
    for file in files:
        if is_video(file.path):
            yield [file]
            continue
        pictures.append(file)
        if len(pictures) == size:
            yield pictures
            pictures = []
    if pictures:
        yield pictures


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
    names: Mapping[str, str],
    report: IndexReport,
    stages: Sequence[Reranker] = (),
) -> None:
    pending: dict[str, NewImage] = {}
    images = []
    side = needed_side(store.specs)
    side = max([side, *(stage.query_min_side for stage in stages)])
    links: list[PathLink] = []  # files whose content is stored already, or pending in this batch
    settings = store.settings
    states = store.path_states([file.path for file in batch])  # one lookup for the batch (a round trip on a server)
    read: list[tuple[FileRecord, bytes, str]] = []  # the batch's changed pictures, their bytes and SHA-256
    for file in batch:
        state = states.get(file.path)
        if state is not None and state[1:] == (file.mtime_ns, file.size):
            report.unchanged += 1
            continue
        try:
            if is_video(file.path):
                sha256 = _add_video(store, file, side, label_of, names, pending, images)
                if sha256 is not None:
                    links.append(PathLink(file.path, file.mtime_ns, file.size, sha256))
                continue
            data = read_bytes(file.path, settings.max_bytes, settings.limit_advice)
        except DecodeError as exc:
            report.skipped.append((file.path, exc.reason))
            continue
        read.append((file, data, hashlib.sha256(data).hexdigest()))
    stored = store.stored_sha256s([sha256 for _, _, sha256 in read])  # one lookup for the batch too
    for file, data, sha256 in read:
        if sha256 in pending or sha256 in stored:
            links.append(PathLink(file.path, file.mtime_ns, file.size, sha256))
            continue
        try:
            decoded = decode_image(data, file.path, min_side=side, max_pixels=settings.max_pixels,
                                   advice=settings.limit_advice)
            digest = pixel_digest(data, decoded, file.path, max_pixels=settings.max_pixels, advice=settings.limit_advice)
        except DecodeError as exc:
            report.skipped.append((file.path, exc.reason))
            continue
        pending[sha256] = NewImage(file.path, file.mtime_ns, file.size, sha256, decoded.width, decoded.height,
                                   decoded.format, label_of(file.path), names.get(file.path, Path(file.path).name),
                                   digest, hash_detail(decoded.image))
        images.append(decoded.image)
    del read  # the files' bytes: decoded now, not kept through feature extraction
    grey: dict[int, Image.Image] = {}  # one grey conversion per image for every grey feature
    vectors = {spec.name: store.runtime.extractor(spec.name).extract_batch([in_input_mode(spec, image, grey) for image in images])
               for spec in store.specs}
    new = list(pending.values())
    dropped_records = store.images(store.with_frames([state[0] for state in states.values()]))
    _, dropped = store.add_batch(new, vectors, links)
    forget_removed(store, dropped_records, dropped)
    for stage in stages:
        stage.on_index([(image.sha256, picture, (image.width, image.height)) for image, picture in zip(new, images)])
    report.indexed += sum(image.is_poster for image in pending.values())  # a video counts once
    report.linked += len(links)


def _add_video(store: Store, file: FileRecord, side: int, label_of: Callable[[str], str | None],
               names: Mapping[str, str], pending: dict[str, NewImage], images: list[Image.Image]) -> str | None:
    """Add a video's sampled frames to `pending` and `images` (the first kept frame, the
    poster, records the path); or return its SHA-256 when that content is stored already
    (only the path is recorded). Raises DecodeError like a picture that cannot be read."""
    if not store.supports_video:
        raise DecodeError(file.path, "videos need the embedded store (this backend keeps no video frames)")
    limits = VideoLimits.of(store.settings)
    sha256, _ = file_sha256(file.path, limits)
    if sha256 in pending or store.image_id_for_sha256(sha256) is not None:
        return sha256
    label, name = label_of(file.path), names.get(file.path, Path(file.path).name)
    kind = Path(file.path).suffix.lstrip(".").upper()
    for number, frame in enumerate(sample_frames(file.path, limits, side)):
        key = sha256 if number == 0 else frame_sha256(sha256, frame.seconds)
        # no pixel digest: a frame is never "exact" (its pixels depend on the decoder's scaler)
        pending[key] = NewImage(file.path, file.mtime_ns, file.size, key, frame.width, frame.height, kind, label, name,
                                None, hash_detail(frame.image), frame.seconds, sha256)
        images.append(frame.image)
    return None

"""Folders -> the image files in them, with what re-indexing needs to skip unchanged ones."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

# What a folder walk collects (docs/formats.md): the formats Pillow reads itself, those of
# phones (HEIC/HEIF through pillow-heif, AVIF), camera RAW (through rawpy; told apart by the
# name, since most RAW files are TIFF inside) and videos (through PyAV, by sampled frames).
# A file whose reader is not installed is skipped with the package to install.
PHONE_SUFFIXES = frozenset({".heic", ".heif", ".hif", ".avif"})
RAW_SUFFIXES = frozenset(
    {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".pef",
     ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".kdc", ".dcr", ".mrw", ".mef", ".mos", ".rwl"}
)
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".3gp"})
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".dib", ".tif", ".tiff"}
) | PHONE_SUFFIXES | RAW_SUFFIXES
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES


@dataclass(frozen=True)
class FileRecord:
    path: str  # absolute, resolved
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Unreadable:
    """A file (or folder) below the roots that cannot be looked at, and why: reported with
    the skipped files, never dropped in silence."""

    path: str
    reason: str


def stat_file(path: str | Path) -> FileRecord:
    """Raises OSError (ELOOP for a symlink loop, ENOENT for a dangling link, ENAMETOOLONG)."""
    resolved = os.path.realpath(path)  # never raises, unlike Path.resolve on a loop (3.11)
    info = os.stat(resolved)
    return FileRecord(resolved, info.st_size, info.st_mtime_ns)


def look_at(path: str | Path) -> FileRecord | Unreadable:
    """`stat_file`, with the reason instead of the exception when the file cannot be had."""
    try:
        return stat_file(path)
    except OSError as exc:
        return Unreadable(str(path), _reason(path, exc))


def _reason(path: str | Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "dangling symlink" if os.path.islink(path) else "no such file or folder"
    if exc.errno == errno.ENAMETOOLONG:
        return f"path too long ({len(str(path)):,} characters)"
    return f"cannot read ({exc.strerror or exc})"


def scan(roots: Iterable[str | Path]) -> Iterator[FileRecord | Unreadable]:
    """Every file with an image or video suffix below the roots (or a root that is itself a file),
    in a stable sorted order, and an `Unreadable` for each such file (or folder) that cannot
    be looked at. Hidden folders are skipped; symlinked folders are not followed (a link
    back up would loop) and are reported."""
    for root in roots:
        root = Path(root).expanduser()
        if not root.is_dir():
            yield look_at(root)
            continue
        unlistable: list[Unreadable] = []
        walk = os.walk(root, onerror=lambda exc: unlistable.append(Unreadable(str(exc.filename), _reason(exc.filename, exc))))
        for folder, subfolders, files in walk:
            yield from unlistable
            unlistable.clear()
            for name in sorted(d for d in subfolders if not d.startswith(".") and os.path.islink(os.path.join(folder, d))):
                yield Unreadable(os.path.join(folder, name), "symlinked folder, not followed")
            subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and not os.path.islink(os.path.join(folder, d)))
            for name in sorted(files):
                if Path(name).suffix.lower() in MEDIA_SUFFIXES:
                    yield look_at(os.path.join(folder, name))
        yield from unlistable


def is_video(path: str | Path) -> bool:
    """Whether the file's name says video (VIDEO_SUFFIXES): indexed by its frames."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def label_for(path: str, label_from: str | None) -> str | None:
    """`prefix`: `a-000001.jpg` -> `a` (text before the first '-' or '_');
    `folder`: the parent folder's name; None: no label."""
    if label_from is None:
        return None
    if label_from == "folder":
        return Path(path).parent.name
    if label_from == "prefix":
        stem = Path(path).stem
        for separator in ("-", "_"):
            if separator in stem:
                return stem.split(separator, 1)[0]
        return stem
    raise ValueError(f"label_from must be 'prefix' or 'folder', not {label_from!r}")

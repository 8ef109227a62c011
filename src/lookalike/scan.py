"""Folders -> the image files in them, with what re-indexing needs to skip unchanged ones."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".dib", ".tif", ".tiff"}
)


@dataclass(frozen=True)
class FileRecord:
    path: str  # absolute, resolved
    size: int
    mtime_ns: int


def stat_file(path: str | Path) -> FileRecord:
    resolved = Path(path).resolve()
    info = resolved.stat()
    return FileRecord(str(resolved), info.st_size, info.st_mtime_ns)


def scan(roots: Iterable[str | Path]) -> Iterator[FileRecord]:
    """Every file with an image suffix below the roots (or a root that is itself a file),
    in a stable sorted order. Hidden folders are skipped."""
    for root in roots:
        root = Path(root)
        if root.is_file():
            yield stat_file(root)
            continue
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(files):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    try:
                        yield stat_file(Path(folder) / name)
                    except OSError:
                        continue  # vanished or unreadable between listing and stat


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

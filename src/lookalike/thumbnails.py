"""Thumbnails of stored images, kept on disk beside the store (`Layout.thumbnails`): made
from the image's file at its first request, then served from there without decoding the
original again (a 4096-pixel WebP takes 0.5-1 s to decode; a cached thumbnail is a file read).

A file is named by the image's id, its content hash and the size (`AB/ID-HASH-SIZE.jpg`,
AB the hash's first two hex digits): ids are never reused, so a file never shows another
picture, and `forget` deletes an image's files when it leaves the collection (whatever
removes it: `lookalike remove`, a re-index of a changed file, the HTTP API). Only SIZES are
kept, one JPEG no larger than SIZE x SIZE each (at most 1024 x 1024, some 300 KB); another
size is made from the next larger kept one. Files are written under a temporary name and
renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from PIL import Image

from .decode import load_image
from .errors import FileGone
from .records import ImageRecord
from .settings import Settings
from .video import VideoLimits, frame_at

# The web page's sizes (96, 320, 480: its rows, cards and query preview at twice their CSS
# size), the API's default (256) and the largest a client may ask for.
SIZES = (96, 256, 320, 480, 1024)
QUALITY = 85
HASH_CHARS = 16


@dataclass(frozen=True)
class Thumbnails:
    """The thumbnails kept in `folder`; `settings` bound the decoding of an original."""

    folder: Path
    settings: Settings

    def jpeg(self, record: ImageRecord, size: int) -> bytes:
        """A JPEG of `record` no larger than size x size (size up to SIZES[-1]): the kept
        file's bytes for one of SIZES, else made from the next larger kept one. Raises
        FileGone when a thumbnail has to be made and no file of the image is on disk."""
        kept = next(kept for kept in SIZES if kept >= size)
        data = self._kept(record, kept)
        if kept == size:
            return data
        with Image.open(io.BytesIO(data)) as image:
            return _jpeg(image.convert("RGB"), size)

    def _kept(self, record: ImageRecord, size: int) -> bytes:
        """The kept thumbnail at one of SIZES, made from the image's file if missing."""
        path = self._path(record, size)
        with contextlib.suppress(FileNotFoundError):
            return path.read_bytes()
        data = _jpeg(self._original(record, size), size)
        _write_atomically(path, data)
        return data

    def forget(self, records: Iterable[ImageRecord]) -> None:
        """Delete the kept thumbnails of images that left the collection."""
        for record in records:
            for path in self.folder.glob(f"{record.sha256[:2]}/{record.id}-*.jpg"):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _path(self, record: ImageRecord, size: int) -> Path:
        return self.folder / record.sha256[:2] / f"{record.id}-{record.sha256[:HASH_CHARS]}-{size}.jpg"

    def _original(self, record: ImageRecord, size: int) -> Image.Image:
        path = record.existing_path()
        if path is None:
            raise FileGone(record.id)
        settings = self.settings
        if record.seconds is not None:  # a video frame: the picture at its time
            return frame_at(path, record.seconds, VideoLimits.of(settings), min_side=size)
        return load_image(path, min_side=size, max_pixels=settings.max_pixels, max_bytes=settings.max_bytes,
                          advice=settings.limit_advice).image


def _jpeg(image: Image.Image, size: int) -> bytes:
    """`image` (shrunk in place) as a JPEG no larger than size x size."""
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise

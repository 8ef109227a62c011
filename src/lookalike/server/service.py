"""The state one server process shares between requests: the open collection, a
readers-writer lock around it, the folder uploads are kept in, and request metrics.

Searches run in parallel; a write (upload, delete) waits for running searches and holds
new ones back, because a FAISS index must not change while it is being searched.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping

from ..api import Collection
from ..layout import Layout
from ..decode import decode_image, is_raw
from ..thumbnails import Thumbnails
from .config import ServerConfig
from .metrics import Metrics

# Uploads are written to `.upload-*` files beside their final name, then renamed.
TEMPORARY_PREFIX = ".upload-"
# Hex digits of the image's SHA-256 a signed URL carries and its signature covers.
SIGNED_HASH_CHARS = 16
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif",
               "HEIF": ".heic", "AVIF": ".avif"}


class ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class Service:
    def __init__(self, config: ServerConfig) -> None:
        settings = replace(config.settings, max_pixels=config.max_pixels, max_bytes=config.max_file_bytes,
                           limit_advice=config.limit_advice())
        self.config = replace(config, settings=settings)
        self.collection = Collection(settings=settings)
        self.lock = ReadWriteLock()
        self.metrics = Metrics()
        self.upload_dir = Layout(settings.db).uploads
        self.thumbnails = Thumbnails(Layout(settings.db).thumbnails, settings)
        self.duplicates_cache: dict[object, Any] = {}  # groups, and the keepers of their pages
        self._url_secret = (
            hashlib.sha256(b"lookalike-url-signing\0" + "\0".join(sorted(config.api_keys)).encode()).digest()
            if config.reads_need_key else b""
        )

    def sign_url(self, path: str, sha256: str) -> str:
        """`path` with an expiry and an HMAC signature when reads need a key, so that the
        web page's <img> tags (which cannot send headers) can load images. The signature
        covers the content hash of the image the URL was made for (`v`, a prefix of its
        SHA-256), so once that image is gone the URL opens nothing, even when its id comes
        to name another picture. The expiry is rounded to the hour so URLs stay cacheable;
        every instance with the same keys accepts the others' signatures."""
        if not self._url_secret:
            return path
        expires = (int(time.time()) // 3600 + 2) * 3600
        version = sha256[:SIGNED_HASH_CHARS]
        return f"{path}?exp={expires}&v={version}&sig={self._signature(path, expires, version)}"

    def signed_version(self, path: str, query: Mapping[str, str]) -> str | None:
        """The content-hash prefix a valid, unexpired signed URL was made for; None if the
        URL is not signed by us (or has expired)."""
        expires, version, signature = query.get("exp", ""), query.get("v", ""), query.get("sig", "")
        if not (self._url_secret and expires.isdigit() and version and signature) or int(expires) < time.time():
            return None
        if not hmac.compare_digest(signature, self._signature(path, int(expires), version)):
            return None
        return version

    def _signature(self, path: str, expires: int, version: str) -> str:
        return hmac.new(self._url_secret, f"{path}|{expires}|{version}".encode(), hashlib.sha256).hexdigest()[:32]

    def close(self) -> None:
        with self.lock.writing():
            self.collection.close()

    def check_upload(self, data: bytes, name: str) -> PendingUpload:
        """Check that `data` decodes (raising the typed error if not) and write it to a
        temporary file beside its final place, a content-addressed name (the client's file
        name never becomes a path). `PendingUpload.keep` renames it, under the write lock."""
        settings = self.config.settings
        decoded = decode_image(data, name, min_side=64, max_pixels=settings.max_pixels, advice=settings.limit_advice)
        digest = hashlib.sha256(data).hexdigest()
        folder = self.upload_dir / digest[:2]
        folder.mkdir(parents=True, exist_ok=True)
        # a camera RAW keeps its own suffix: it says how to read the file again (decode.is_raw)
        suffix = Path(name).suffix.lower() if is_raw(name) else _EXTENSIONS.get(decoded.format, ".img")
        return write_pending(folder / (digest + suffix), digest, data)

    def forget_upload_files(self, paths: Iterable[str]) -> None:
        """Delete our own copies of uploads among `paths`; call under the write lock, in the
        same hold as the catalog change, so that no upload acknowledged after it loses them."""
        own = self.upload_dir.resolve()
        for path in paths:
            if Path(path).is_relative_to(own):
                Path(path).unlink(missing_ok=True)


class PendingUpload:
    """An upload's bytes in a temporary file (open and locked), waiting for the write lock."""

    def __init__(self, path: Path, sha256: str, temporary: Path, handle: IO[bytes]) -> None:
        self.path = path
        self.sha256 = sha256
        self._temporary = temporary
        self._handle = handle

    def keep(self) -> Path:
        """Rename the file into place. Call under the write lock, with the catalog change:
        a delete, which removes the file under the same lock, cannot come in between.
        Renamed over an existing file too: the content is the name."""
        os.replace(self._temporary, self.path)
        self._handle.close()
        return self.path

    def discard(self) -> None:
        """Forget the temporary file (nothing happens if it was kept)."""
        if not self._handle.closed:
            self._handle.close()
            self._temporary.unlink(missing_ok=True)


def write_pending(path: Path, sha256: str, data: bytes) -> PendingUpload:
    """`data` in a `.upload-*` file beside `path`, locked while it is pending: a server that
    starts meanwhile leaves it alone (see `remove_abandoned_uploads`)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
    handle = os.fdopen(descriptor, "wb")
    pending = PendingUpload(path, sha256, Path(temporary), handle)
    try:
        _try_lock(handle)
        handle.write(data)
        handle.flush()
    except BaseException:
        pending.discard()
        raise
    return pending


def remove_abandoned_uploads(upload_dir: Path) -> list[Path]:
    """Delete temporary upload files a crash left behind (`.upload-*`); a file another live
    process is still writing holds a lock on it and stays. Stored files are never touched."""
    removed = []
    for leftover in upload_dir.glob(f"*/{TEMPORARY_PREFIX}*"):
        try:
            with open(leftover, "rb") as handle:
                if not _try_lock(handle):
                    continue
                leftover.unlink(missing_ok=True)
                removed.append(leftover)
        except OSError:
            continue
    return removed


def _try_lock(handle: IO[bytes]) -> bool:
    """An exclusive, non-blocking lock on an open file, released when it closes."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no way to tell a live writer's file, keep them all
        return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True

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
from typing import Iterator, Mapping

from ..api import Collection
from ..decode import decode_image
from .config import ServerConfig
from .metrics import Metrics

_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


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
        settings = replace(config.settings, max_pixels=config.max_pixels, max_bytes=config.max_file_bytes)
        self.config = replace(config, settings=settings)
        self.collection = Collection(settings=settings)
        self.lock = ReadWriteLock()
        self.metrics = Metrics()
        self.upload_dir = Path(f"{settings.db}.files")
        self.duplicates_cache: dict[object, list] = {}
        needs_key = bool(config.api_keys) and not config.read_open
        self._url_secret = (
            hashlib.sha256(b"lookalike-url-signing\0" + "\0".join(sorted(config.api_keys)).encode()).digest()
            if needs_key else b""
        )

    def sign_url(self, path: str) -> str:
        """`path` with an expiry and an HMAC signature when reads need a key, so that the
        web page's <img> tags (which cannot send headers) can load images. The expiry is
        rounded to the hour so URLs stay cacheable; every instance with the same keys
        accepts the others' signatures."""
        if not self._url_secret:
            return path
        expires = (int(time.time()) // 3600 + 2) * 3600
        return f"{path}?exp={expires}&sig={self._signature(path, expires)}"

    def has_valid_signature(self, path: str, query: Mapping[str, str]) -> bool:
        expires, signature = query.get("exp", ""), query.get("sig", "")
        if not (self._url_secret and expires.isdigit() and signature) or int(expires) < time.time():
            return False
        return hmac.compare_digest(signature, self._signature(path, int(expires)))

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._url_secret, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def close(self) -> None:
        with self.lock.writing():
            self.collection.close()

    def keep_upload(self, data: bytes, name: str) -> Path:
        """Check that `data` decodes (raising the typed error if not), then keep it under a
        content-addressed name: the client's file name never becomes a path."""
        decoded = decode_image(data, name, min_side=64, max_pixels=self.config.settings.max_pixels)
        digest = hashlib.sha256(data).hexdigest()
        folder = self.upload_dir / digest[:2]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (digest + _EXTENSIONS.get(decoded.format, ".img"))
        if not path.exists():
            _write_atomically(path, data)
        return path


def _write_atomically(path: Path, data: bytes) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

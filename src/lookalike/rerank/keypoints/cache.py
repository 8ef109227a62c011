"""A bounded, thread-safe cache of local features: in memory, over files for stored images."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ...settings import default_cache_root
from .features import LocalFeatures

if TYPE_CHECKING:
    from ...runtime import Runtime

log = logging.getLogger(__name__)


class FeatureCache:
    """Local features by key: an in-memory LRU bounded in bytes, over an optional directory
    of files for content-addressed keys (see `feature_key`), so a stored image is decoded
    and described once, not once per process. Thread-safe; disk trouble (read-only, full,
    damaged files) only costs recomputation.

    `directory`: where the files go; default `keypoints/` under the cache root
    (`lookalike.settings.default_cache_root`). `persist=False`: memory only. A collection's
    runtime holds its cache (`feature_cache`), in `Settings.cache_root()/keypoints`."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, directory: str | os.PathLike[str] | None = None,
                 persist: bool = True) -> None:
        self.max_bytes = max_bytes
        self.persist = persist
        self._directory = Path(directory) if directory is not None else None
        self._items: OrderedDict[str, LocalFeatures] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.disk_hits = 0
        self.misses = 0

    @property
    def directory(self) -> Path:
        if self._directory is None:
            self._directory = default_cache_root() / "keypoints"
        return self._directory

    def get(self, key: str, *, persistent: bool = False) -> LocalFeatures | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
        if persistent and self.persist:
            found = self._read(key)
            if found is not None:
                self._remember(key, found)
                with self._lock:
                    self.disk_hits += 1
                return found
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: str, features: LocalFeatures, *, persistent: bool = False) -> None:
        self._remember(key, features)
        if persistent and self.persist:
            self._write(key, features)

    def get_or_compute(self, key: str, compute: Callable[[], LocalFeatures], *, persistent: bool = False) -> LocalFeatures:
        found = self.get(key, persistent=persistent)
        if found is None:
            found = compute()
            self.put(key, found, persistent=persistent)
        return found

    def sibling(self, max_bytes: int) -> "FeatureCache":
        """Another in-memory LRU over the same files."""
        return FeatureCache(max_bytes, self._directory, self.persist)

    def clear(self) -> None:
        """Forget the in-memory entries (files stay)."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def discard(self, sha256: str) -> int:
        """Forget a file's features (every method and setting), in memory and on disk, when
        its image leaves a collection. Returns how many cache files were deleted. (The files
        are shared by every collection on this machine: another one holding the same content
        only describes it again on its next use.)"""
        suffix = f"/{sha256[:2]}/{sha256}"
        with self._lock:
            for key in [key for key in self._items if key.endswith(suffix)]:
                self._bytes -= self._items.pop(key).nbytes
        if not self.persist:
            return 0
        deleted = 0
        with contextlib.suppress(OSError):
            for path in self.directory.glob(f"*/{sha256[:2]}/{sha256}.kp"):
                with contextlib.suppress(OSError):
                    path.unlink()
                    deleted += 1
        return deleted

    def _remember(self, key: str, features: LocalFeatures) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = features
            self._bytes += features.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.kp"

    def _read(self, key: str) -> LocalFeatures | None:
        try:
            return LocalFeatures.from_bytes(self._path(key).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("ignoring unreadable keypoint cache file for %s: %s", key, exc)
            return None

    def _write(self, key: str, features: LocalFeatures) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as file:
                file.write(features.to_bytes())
            os.replace(file.name, path)  # readers never see half a file
        except OSError as exc:
            log.debug("cannot write keypoint cache file %s: %s", path, exc)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(file.name)


def feature_cache(runtime: "Runtime") -> FeatureCache:
    """The collection's keypoint feature cache, in `Settings.cache_root()/keypoints`."""
    return runtime.state("keypoints.cache", lambda: FeatureCache(directory=runtime.settings.cache_root() / "keypoints"))

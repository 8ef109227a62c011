"""Where a collection lives: `open_store(settings)` picks the backend from `Settings.store`.

- None (default): the embedded store, SQLite + FAISS files at `Settings.db`;
- "milvus-lite:PATH": Milvus Lite, a Milvus engine in-process, in a local folder;
- "milvus://HOST:PORT/COLLECTION": a Milvus server or cluster.

Each backend is imported when a store of its kind opens (the embedded one loads FAISS,
Milvus pymilvus), so that importing lookalike, or a command that opens no store
(`lookalike --help`), pays for neither.
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreError
from ..settings import Settings
from .base import CALIBRATED_SETTINGS, CANDIDATE_FAMILIES, NewImage, PathLink, Store

__all__ = ["CALIBRATED_SETTINGS", "CANDIDATE_FAMILIES", "EmbeddedStore", "NewImage", "PathLink", "Store", "open_store"]


def open_store(settings: Settings) -> Store:
    url = settings.store
    if not url:
        from .embedded import EmbeddedStore

        return EmbeddedStore(settings)
    if url.startswith(("milvus-lite:", "milvus://")):
        from .milvus import MilvusStore

        return MilvusStore(settings, url)
    raise StoreError(f"unknown store {url!r}: use milvus-lite:PATH or milvus://HOST:PORT/COLLECTION")


def __getattr__(name: str) -> Any:
    if name == "EmbeddedStore":
        from .embedded import EmbeddedStore

        return EmbeddedStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

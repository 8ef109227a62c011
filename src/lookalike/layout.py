"""Where a collection's files live, decided in this one place: the catalog at `db` and,
beside it,

    db.indexes/   the embedded store's vector index files and their sidecars
    db.lock       the file its writers lock
    db.files/     the HTTP service's copies of uploaded images
    db.thumbnails/ thumbnails of stored images, made at first request (`lookalike.thumbnails`)
    db.dedup/     the dedup actions' lock and the backups that let `lookalike undo` restore linked files

What can be made again for any collection (the converted model, keypoint features) lives
in the machine's cache instead (`Settings.cache_root()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    db: Path

    @property
    def indexes(self) -> Path:
        return Path(f"{self.db}.indexes")

    @property
    def lock(self) -> Path:
        return Path(f"{self.db}.lock")

    @property
    def uploads(self) -> Path:
        return Path(f"{self.db}.files")

    @property
    def thumbnails(self) -> Path:
        return Path(f"{self.db}.thumbnails")

    @property
    def dedup(self) -> Path:
        """`lookalike.curate.actions`' lock file and the bytes of files it replaced by links."""
        return Path(f"{self.db}.dedup")

"""SQLite catalog: the source of truth for images, paths, labels and vectors."""

from .catalog import Catalog

__all__ = ["Catalog"]

"""Vector indexes: one FAISS index per feature, derived from the catalog."""

from .faiss_index import VectorIndex, choose_factory

__all__ = ["VectorIndex", "choose_factory"]

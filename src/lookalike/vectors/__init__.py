"""Vector indexes: one FAISS index per feature, derived from the catalog."""

from .faiss_index import VectorIndex, choose_factory, is_approximate, training_size

__all__ = ["VectorIndex", "choose_factory", "is_approximate", "training_size"]

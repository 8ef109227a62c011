"""Embeddings of the frozen pretrained backbone, computed once with onnxruntime.

The siamese head trains on these vectors, never on pixels: the expensive network runs once
per view instead of once per step, which is what makes training a matter of minutes on two
CPU cores. They are exactly the vectors indexing stores (same extractor, same
preprocessing), so the head learns on the input it will be served.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from PIL import Image

from ..features.registry import get_extractor

BACKBONE = "effnet_lite0"
BATCH = 32


def embed(images: Sequence[Image.Image], backbone: str = BACKBONE,
          on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """(len(images), backbone dim) L2-normalised embeddings, in batches."""
    extractor = get_extractor(backbone)
    parts = []
    for start in range(0, len(images), BATCH):
        batch = list(images[start:start + BATCH])
        parts.append(extractor.extract_batch(batch))
        if on_batch:
            on_batch(len(batch))
    return np.concatenate(parts) if parts else np.empty((0, extractor.spec.width), dtype=np.float32)


def embed_views(views: Sequence[Sequence[Image.Image]], backbone: str = BACKBONE,
                on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """Views of each image (same count each) -> (images, views, dim)."""
    per_image = len(views[0]) if views else 0
    flat = embed([view for group in views for view in group], backbone, on_batch)
    return flat.reshape(len(views), per_image, -1)

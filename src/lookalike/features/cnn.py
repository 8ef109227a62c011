"""Embedding: EfficientNet-Lite0 (ImageNet weights) global-pooled 1280-d, L2-normalised.

Served by onnxruntime from the ONNX model that `lookalike.models` converts once from the
pip-installed PyTorch weights; torch is never imported here. Robust to rotation, mirroring,
moderate crops and re-framing, where the hashes collapse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from .base import Extractor, FeatureSpec, l2_normalise

_MODEL = "efficientnet_lite0"


class EfficientNetLite0(Extractor):
    spec = FeatureSpec(
        name="effnet_lite0",
        version="1",
        kind="float",
        dim=1280,
        input_side=224,
        near=0.80,
        far=0.25,
        family="embedding",
        description="EfficientNet-Lite0 ImageNet embedding, 1280-d (onnxruntime)",
        invariance="mirror",
    )

    def __init__(self) -> None:
        self._model: Any = None

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        if self._model is None:
            from ..models.cache import ModelRunner

            self._model = ModelRunner(_MODEL)
        (embedding,) = self._model.run(images, ["embedding"])
        return l2_normalise(embedding)

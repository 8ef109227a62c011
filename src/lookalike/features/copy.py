"""Copy descriptor: lookalike's own network for telling an edited copy from a look-alike.

EfficientNet-Lite0 with its last blocks fine-tuned on edited copies among pictures of one
kind (`lookalike.train.copy`, `make train-copy-model`; model card: docs/copy-descriptor.md),
GeM-pooled and projected to 256 floats, L2-normalised. Served by onnxruntime from the graph
`lookalike.models` builds once from the ImageNet weights and the trained branch shipped in
the package. Where the ImageNet embedding says "alike" for any two star fields or two
shoes on white, this one says "the same picture" only for copies: crops to half the area,
borders, frames, captions, recolouring and heavy JPEG included.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np
from PIL import Image

from .base import Extractor, FeatureSpec, l2_normalise
from .regions import WINDOWS, describe_window

_MODEL = "copy_lite0"


class CopyDescriptor(Extractor):
    # near / far: the median similarity of the held-out copies and of their best non-copy in
    # the training run (docs/copy-descriptor.md; checked against the shipped
    # weights' own figures by tests/test_copy_feature.py).
    spec = FeatureSpec(
        name="copy_lite0",
        version="1",
        kind="float",
        dim=256,
        input_side=224,
        near=0.59,
        far=0.32,
        family="copy",
        description="lookalike copy descriptor (EfficientNet-Lite0 fine-tuned, GeM), 256-d (onnxruntime)",
        # trained with mirrored copies as positives, yet a mirrored photo keeps only ~0.83 of
        # its similarity: the query is mirrored instead (tests/test_features.py)
        invariance="none",
    )

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._last: tuple[tuple[int, ...], list[Image.Image], np.ndarray, np.ndarray] | None = None

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        return self.describe(images)[0]

    def describe(self, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """(descriptors [N, D], window descriptors [N, windows, D]), L2-normalised, from one
        pass. The last batch's answer is kept, so the window features that follow the global
        one through the same batch (`CopyRegion`) cost no second pass."""
        key = tuple(id(image) for image in images)
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[2], self._last[3]
            if self._model is None:
                from ..models.cache import ModelRunner

                self._model = ModelRunner(_MODEL)
            descriptor, regions = self._model.run(images, ["descriptor", "regions"])
            answer = l2_normalise(descriptor), l2_normalise(regions.reshape(-1, regions.shape[-1])).reshape(regions.shape)
            # the images are held with their ids, so no other batch can reuse those ids meanwhile
            self._last = (key, list(images), *answer)
            return answer

    def close(self) -> None:
        self._model, self._last = None, None


class CopyRegion(Extractor):
    """The copy descriptor of one window of the image (`features.regions.WINDOWS`), pooled
    from the same feature map as the whole image's: stored, and searched with the query's
    global descriptor, so a query that is a crop of part of a picture finds it."""

    suffix: str

    def attach(self, extractor_of: Callable[[str], Extractor]) -> None:
        self._extractor_of = extractor_of

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        base = self._extractor_of(CopyDescriptor.spec.name)
        assert isinstance(base, CopyDescriptor)
        return base.describe(images)[1][:, list(WINDOWS).index(self.suffix)]


def _copy_region_class(suffix: str) -> type[CopyRegion]:
    base = CopyDescriptor.spec
    spec = FeatureSpec(
        name=f"{base.name}_region_{suffix}", version=base.version, kind=base.kind, dim=base.dim,
        input_side=base.input_side, near=base.near, far=base.far, family="region",
        description=f"{base.name} of the {describe_window(suffix)} (searched with the query's global descriptor)",
        invariance="none", query_with=base.name,
    )
    return type(f"CopyRegion_{suffix}", (CopyRegion,), {"spec": spec, "suffix": suffix})


COPY_REGION_EXTRACTORS = tuple(_copy_region_class(suffix) for suffix in WINDOWS)
COPY_FEATURES = (CopyDescriptor.spec.name, *(cls.spec.name for cls in COPY_REGION_EXTRACTORS))

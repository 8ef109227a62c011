"""Regional embeddings: the CNN embedding of a few windows of each stored image, so that a
query that is a crop of any part of a picture finds it.

A global embedding sees the whole picture; a crop of a third of it looks like another
picture. Each region feature embeds one window of the stored image (a coarse grid at a
second scale: the four corner windows and the centre one, each 60% of the width and height,
36% of the area), and is searched with the query's *global* embedding
(`FeatureSpec.query_with`): a query cut from anywhere inside a window, or covering most of
one, lands near that window's vector. Each region is an ordinary feature (one vector per
image, its own index, stored by either backend like any other), so the store, indexing,
removal, migration and search need no second code path: search takes candidates from the
region indexes too, and each region's similarity is evidence (which region matched). The
fused score ignores the "region" family: a region vouches for a candidate, keypoint
verification (`--rerank keypoints`) or the copy detectors decide what it is.

Not in the default features (each region costs one more CNN pass per image at indexing,
5 KB per image and one more index search per query): choose them for a new store with
`Settings(features=DEFAULT_FEATURES + region_features(5))` or `lookalike index --regions 5`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from PIL import Image

from .base import Extractor, FeatureSpec
from .cnn import EfficientNetLite0

SIDE = 0.6  # each window's share of the width and of the height
# name suffix -> (left, top, right, bottom) as fractions of the image, in the order a count takes them
WINDOWS: dict[str, tuple[float, float, float, float]] = {
    "tl": (0.0, 0.0, SIDE, SIDE),
    "tr": (1.0 - SIDE, 0.0, 1.0, SIDE),
    "bl": (0.0, 1.0 - SIDE, SIDE, 1.0),
    "br": (1.0 - SIDE, 1.0 - SIDE, 1.0, 1.0),
    "c": ((1.0 - SIDE) / 2, (1.0 - SIDE) / 2, (1.0 + SIDE) / 2, (1.0 + SIDE) / 2),
}
REGION_COUNTS = (0, 1, 4, 5)  # 1: the centre window; 4: the corners; 5: both


def region_features(count: int) -> tuple[str, ...]:
    """The region feature names for `count` windows (see REGION_COUNTS)."""
    if count not in REGION_COUNTS:
        raise ValueError(f"regions: choose one of {', '.join(map(str, REGION_COUNTS))}, not {count}")
    suffixes = {0: (), 1: ("c",), 4: ("tl", "tr", "bl", "br"), 5: ("tl", "tr", "bl", "br", "c")}[count]
    return tuple(f"{BASE.name}_region_{suffix}" for suffix in suffixes)


BASE = EfficientNetLite0.spec


def window(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    width, height = image.size
    left, top, right, bottom = box
    return image.crop((round(left * width), round(top * height), round(right * width), round(bottom * height)))


class RegionEmbedding(Extractor):
    """The base embedding of one window of the image; subclasses name the window."""

    suffix: str

    def __init__(self) -> None:
        self._base: Any = None

    def attach(self, extractor_of: Callable[[str], Extractor]) -> None:
        self._extractor_of = extractor_of

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        if self._base is None:
            self._base = self._extractor_of(BASE.name)
        box = WINDOWS[self.suffix]
        return self._base.extract_batch([window(image, box) for image in images])


def _region_class(suffix: str) -> type[RegionEmbedding]:
    box = WINDOWS[suffix]
    spec = FeatureSpec(
        name=f"{BASE.name}_region_{suffix}",
        version=BASE.version,
        kind=BASE.kind,
        dim=BASE.dim,
        # the window must still hold the base's input side
        input_side=round(BASE.input_side / SIDE),
        near=BASE.near,
        far=BASE.far,
        family="region",
        description=f"{BASE.name} of the window x {box[0]:.0%}-{box[2]:.0%}, y {box[1]:.0%}-{box[3]:.0%} "
        "(searched with the query's global embedding)",
        invariance="none",  # a window of a mirrored image is another window; the query borrows its vectors anyway
        query_with=BASE.name,
    )
    return type(f"RegionEmbedding_{suffix}", (RegionEmbedding,), {"spec": spec, "suffix": suffix})


# One extractor per window, listed by the feature registry.
REGION_EXTRACTORS = tuple(_region_class(suffix) for suffix in WINDOWS)


def describe_region(spec: FeatureSpec) -> str | None:
    """Plain words for a region feature's window ("top-left 60% x 60%"), None for other features."""
    suffix = spec.name.rsplit("_region_", 1)[-1]
    if spec.family != "region" or suffix not in WINDOWS:
        return None
    return describe_window(suffix)


def describe_window(suffix: str) -> str:
    names = {"tl": "top-left", "tr": "top-right", "bl": "bottom-left", "br": "bottom-right", "c": "centre"}
    return f"{names[suffix]} window ({SIDE:.0%} of each side)"

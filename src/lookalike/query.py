"""A query image -> its features in all eight orientations (rotations and mirrorings).

Stored images keep one vector per feature; the query is turned instead, so a copy that was
rotated by 90/180/270 degrees or mirrored matches its original at full strength.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from .decode import decode_image, read_bytes
from .features.base import FeatureSpec
from .features.registry import get_extractor, get_spec
from .settings import Settings

T = Image.Transpose
ORIENTATIONS: dict[str, T | None] = {
    "original": None,
    "rotated 90": T.ROTATE_90,
    "rotated 180": T.ROTATE_180,
    "rotated 270": T.ROTATE_270,
    "mirrored": T.FLIP_LEFT_RIGHT,
    "flipped": T.FLIP_TOP_BOTTOM,
    "transposed": T.TRANSPOSE,
    "transversed": T.TRANSVERSE,
}

# A mirrored orientation equals the mirror image of one rotation; features invariant to
# mirroring reuse that rotation's vector instead of running again.
MIRROR_OF = {
    "mirrored": "original",
    "flipped": "rotated 180",
    "transposed": "rotated 270",
    "transversed": "rotated 90",
}
ROTATIONS = ("original", "rotated 90", "rotated 180", "rotated 270")

ImageSource = str | Path | bytes


@dataclass(frozen=True)
class QueryImage:
    """A decoded query and its content hash (to recognise a byte-identical file)."""

    image: Image.Image
    sha256: str
    name: str


@dataclass(frozen=True)
class QueryFeatures:
    """vectors[feature] has one row per orientation, in ORIENTATIONS order."""

    sha256: str
    orientations: tuple[str, ...]
    vectors: dict[str, np.ndarray]


def load_query(source: ImageSource, settings: Settings, min_side: int) -> QueryImage:
    if isinstance(source, bytes):
        data, name = source, "<upload>"
    else:
        data, name = read_bytes(source, settings.max_bytes), str(source)
    decoded = decode_image(data, name, min_side=min_side, max_pixels=settings.max_pixels)
    return QueryImage(decoded.image, hashlib.sha256(data).hexdigest(), name)


def query_features(
    query: QueryImage, specs: Sequence[FeatureSpec], all_orientations: bool = True
) -> QueryFeatures:
    """Each feature computed only for the orientations it is not invariant to, then
    spread over all the orientations asked for."""
    names = tuple(ORIENTATIONS) if all_orientations else ("original",)
    turned: dict[tuple[str, str], Image.Image] = {}

    def image_in(orientation: str, mode: str) -> Image.Image:
        """The query turned, in RGB or grey; a grey turn is the grey query turned (the
        same pixels as turning first, one conversion for every orientation and feature)."""
        if (orientation, mode) not in turned:
            transform = ORIENTATIONS[orientation]
            if transform is not None:
                turned[orientation, mode] = image_in("original", mode).transpose(transform)
            else:
                turned[orientation, mode] = query.image if mode == "RGB" else query.image.convert(mode)
        return turned[orientation, mode]

    vectors: dict[str, np.ndarray] = {}
    own = [spec for spec in specs if spec.query_with is None]
    borrowed = [spec for spec in specs if spec.query_with is not None]
    missing = {spec.query_with for spec in borrowed} - {spec.name for spec in own}
    for spec in own + [get_spec(name) for name in sorted(missing) if name is not None]:
        sources = [_computed_orientation(spec, name) for name in names]
        distinct = list(dict.fromkeys(sources))
        computed = get_extractor(spec.name).extract_batch([image_in(name, spec.input_mode) for name in distinct])
        vectors[spec.name] = computed[[distinct.index(source) for source in sources]]
    for spec in borrowed:  # searched with another feature's query vector (regional embeddings)
        vectors[spec.name] = vectors[str(spec.query_with)]
    return QueryFeatures(query.sha256, names, vectors)


def _computed_orientation(spec: FeatureSpec, orientation: str) -> str:
    """The orientation whose vector stands for `orientation` under the feature's invariance."""
    if spec.invariance == "dihedral":
        return "original"
    if spec.invariance == "mirror":
        return MIRROR_OF.get(orientation, orientation)
    return orientation

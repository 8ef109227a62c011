"""A query image -> its features in all eight orientations (rotations and mirrorings).

Stored images keep one vector per feature; the query is turned instead, so a copy that was
rotated by 90/180/270 degrees or mirrored matches its original at full strength.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from PIL import Image

from .decode import Decoded, decode_image, pixel_digest, read_bytes
from .features.base import FeatureSpec
from .features.registry import get_spec
from .settings import Settings

if TYPE_CHECKING:
    from .runtime import Runtime

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
    """A decoded query and its content hash (to recognise a byte-identical file); `data`
    (its file's bytes) and `size` (its full upright width and height: `image` may be
    draft-scaled) give its pixel digest when a match may be exact (`pixel_digest_of`)."""

    image: Image.Image
    sha256: str
    name: str
    data: bytes = field(default=b"", repr=False)
    size: tuple[int, int] = (0, 0)


def pixel_digest_of(query: QueryImage, settings: Settings) -> str | None:
    """The query's `decode.pixel_digest` (None for a query made without its bytes)."""
    if not query.data:
        return None
    decoded = Decoded(query.image, "", *query.size)
    return pixel_digest(query.data, decoded, query.name, max_pixels=settings.max_pixels, advice=settings.limit_advice)


@dataclass(frozen=True)
class QueryFeatures:
    """vectors[feature] has one row per orientation, in ORIENTATIONS order.

    Features in `upright_rows` were computed only for the orientations their vector of the
    upright query stands for (those row numbers; see `query_features`); their other rows
    are zeros, similar to nothing, so those orientations carry no evidence from them.
    """

    sha256: str
    orientations: tuple[str, ...]
    vectors: dict[str, np.ndarray]
    upright_rows: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def computed_rows(self, feature: str) -> np.ndarray:
        """The orientations (row numbers) whose vector of `feature` was computed."""
        return np.asarray(self.upright_rows.get(feature, range(len(self.orientations))), dtype=np.int64)


def load_query(source: ImageSource, settings: Settings, min_side: int) -> QueryImage:
    if isinstance(source, bytes):
        data, name = source, "<upload>"
    else:
        data, name = read_bytes(source, settings.max_bytes, settings.limit_advice), str(source)
    decoded = decode_image(data, name, min_side=min_side, max_pixels=settings.max_pixels, advice=settings.limit_advice)
    return QueryImage(decoded.image, hashlib.sha256(data).hexdigest(), name, data, (decoded.width, decoded.height))


def query_features(
    query: QueryImage, specs: Sequence[FeatureSpec], runtime: "Runtime", all_orientations: bool = True,
    turn_costly: bool = True
) -> QueryFeatures:
    """Each feature computed only for the orientations it is not invariant to, then
    spread over all the orientations asked for, by `runtime`'s extractors.

    Without `turn_costly`, the CNN features (COSTLY_FAMILIES, and the regional ones that
    borrow their vectors) are computed for the upright query only: turning the query costs
    one CNN pass per rotation (most of a query's time), while the hashes find a turned
    copy in their own turned rows for a few milliseconds. `complete_features` adds the
    missing rotations when the upright search leaves doubt.
    """
    names = tuple(ORIENTATIONS) if all_orientations else ("original",)
    features = QueryFeatures(query.sha256, names, {})
    upright = _Modes(query.image)
    own = _own_specs(specs)
    costly = [spec for spec in own if spec.family in COSTLY_FAMILIES]
    # The CNN passes run beside the cheap features: onnxruntime leaves gaps on two cores
    # that the hashes and texture fill (a query's features at 100k: 72 -> 57 ms).
    pending = {spec.name: runtime.pool("cnn", 2).submit(_feature_rows, runtime, spec, names, upright, not turn_costly)
               for spec in costly}
    for spec in own:
        if spec.name not in pending:
            features.vectors[spec.name] = _feature_rows(runtime, spec, names, upright)
    for spec in costly:
        features.vectors[spec.name] = pending[spec.name].result()
        if not turn_costly:
            features.upright_rows[spec.name] = _upright_rows(spec, names)
    return _with_borrowed(features, specs)


# Features a query computes in its turned orientations only when needed: CNN passes.
COSTLY_FAMILIES = ("embedding", "copy")


def complete_features(query: QueryImage, features: QueryFeatures, specs: Sequence[FeatureSpec],
                      runtime: "Runtime") -> QueryFeatures:
    """`features` with its upright-only features computed in every orientation as well."""
    if not features.upright_rows:
        return features
    complete = QueryFeatures(features.sha256, features.orientations, dict(features.vectors))
    upright = _Modes(query.image)
    for spec in _own_specs([spec for spec in specs if spec.name in features.upright_rows]):
        complete.vectors[spec.name] = _feature_rows(runtime, spec, features.orientations, upright,
                                                    known=features.vectors[spec.name])
    return _with_borrowed(complete, specs)


class _Modes:
    """The upright query in each mode its features read (RGB, grey), each converted once
    for every feature; thread-safe (the CNN pass runs beside the others)."""

    def __init__(self, image: Image.Image) -> None:
        self._images = {image.mode: image}
        self._lock = threading.Lock()

    def get(self, mode: str) -> Image.Image:
        with self._lock:
            if mode not in self._images:
                self._images[mode] = next(iter(self._images.values())).convert(mode)
            return self._images[mode]


def _own_specs(specs: Sequence[FeatureSpec]) -> list[FeatureSpec]:
    """The features that compute their own query vectors, including those others borrow."""
    own = [spec for spec in specs if spec.query_with is None]
    lent = {spec.query_with for spec in specs if spec.query_with is not None} - {spec.name for spec in own}
    return own + [get_spec(name) for name in sorted(name for name in lent if name is not None)]


def _with_borrowed(features: QueryFeatures, specs: Sequence[FeatureSpec]) -> QueryFeatures:
    """Features searched with another feature's query vector (regional embeddings) get it."""
    for spec in specs:
        if spec.query_with is not None:
            features.vectors[spec.name] = features.vectors[spec.query_with]
            if spec.query_with in features.upright_rows:
                features.upright_rows[spec.name] = features.upright_rows[spec.query_with]
    return features


def _feature_rows(runtime: "Runtime", spec: FeatureSpec, names: tuple[str, ...], upright: _Modes,
                  upright_only: bool = False, known: np.ndarray | None = None) -> np.ndarray:
    """One row per orientation in `names`: the extractor runs once per distinct orientation
    it is not invariant to (only the upright one if `upright_only`: other rows stay zero),
    skipping the upright one when `known` (earlier rows) has it."""
    sources = [_computed_orientation(spec, name) for name in names]
    wanted = [source for source in dict.fromkeys(sources)
              if (source == "original" or not upright_only) and (source != "original" or known is None)]
    computed = runtime.extractor(spec.name).extract_turned(upright.get(spec.input_mode),
                                                       [ORIENTATIONS[source] for source in wanted])
    rows = np.zeros((len(names), spec.width), dtype=spec.dtype) if known is None else known.copy()
    for row, source in enumerate(sources):
        if source in wanted:
            rows[row] = computed[wanted.index(source)]
    return rows


def _upright_rows(spec: FeatureSpec, names: tuple[str, ...]) -> tuple[int, ...]:
    """The orientations whose vector of `spec` is the upright query's."""
    return tuple(row for row, name in enumerate(names) if _computed_orientation(spec, name) == "original")


def tells_apart(spec: FeatureSpec, orientation: str, other: str = "original") -> bool:
    """Whether the feature's vectors of the query in two orientations can differ (a feature
    invariant to the turn between them computes one vector for both)."""
    return _computed_orientation(spec, orientation) != _computed_orientation(spec, other)


def _computed_orientation(spec: FeatureSpec, orientation: str) -> str:
    """The orientation whose vector stands for `orientation` under the feature's invariance."""
    if spec.invariance == "dihedral":
        return "original"
    if spec.invariance == "mirror":
        return MIRROR_OF.get(orientation, orientation)
    return orientation

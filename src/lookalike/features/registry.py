"""Features by name, declared in one place: `get_extractor("phash")` builds one.

The built-in extractors are listed here (`_extractor_classes`), and `@register_extractor`
adds another (a plugin's). The registry holds classes, the factories, and nothing else:
whoever owns an instance (a collection's runtime, `lookalike.runtime`) decides how long it
and its model live. Features of trained model files are a runtime's too
(`Runtime.add_model_file`).
"""

from __future__ import annotations

from typing import TypeVar

from ..errors import UnknownFeature
from .base import Extractor, FeatureSpec

E = TypeVar("E", bound=type[Extractor])

_PLUGINS: dict[str, type[Extractor]] = {}


def register_extractor(cls: E) -> E:
    """Class decorator: make an extractor available under `cls.spec.name`."""
    name = cls.spec.name
    known = _extractor_classes()
    if name in known and known[name] is not cls:
        raise ValueError(f"feature {name!r} is registered twice")
    _PLUGINS[name] = cls
    return cls


def _extractor_classes() -> dict[str, type[Extractor]]:
    """Every extractor by feature name: the built-in ones, then the registered ones."""
    from . import cnn, colour, copy, hashes, regions, texture

    builtin = (cnn.EfficientNetLite0, copy.CopyDescriptor, colour.ColourHistogram, hashes.AverageHash, hashes.DifferenceHash,
               hashes.PerceptualHash, hashes.WaveletHash, *regions.REGION_EXTRACTORS, *copy.COPY_REGION_EXTRACTORS,
               texture.LocalBinaryPatterns)
    return {cls.spec.name: cls for cls in builtin} | _PLUGINS


def feature_names() -> list[str]:
    return list(_extractor_classes())


def get_spec(name: str) -> FeatureSpec:
    classes = _extractor_classes()
    try:
        return classes[name].spec
    except KeyError:
        raise UnknownFeature(name, list(classes)) from None


def get_extractor(name: str) -> Extractor:
    """A new extractor of the feature `name` (its model, if any, loads on first use); an
    extractor that reuses another (a regional embedding: the CNN) gets a new one of that too."""
    get_spec(name)
    extractor = _extractor_classes()[name]()
    extractor.attach(get_extractor)
    return extractor


def all_specs() -> list[FeatureSpec]:
    return [get_spec(name) for name in feature_names()]

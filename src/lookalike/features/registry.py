"""Features by name: `@register_extractor` declares one, `get_extractor("phash")` builds it."""

from __future__ import annotations

from typing import TypeVar

from ..errors import UnknownFeature
from .base import Extractor, FeatureSpec

E = TypeVar("E", bound=type[Extractor])

_EXTRACTORS: dict[str, type[Extractor]] = {}
_INSTANCES: dict[str, Extractor] = {}


def register_extractor(cls: E) -> E:
    """Class decorator: make an extractor available under `cls.spec.name`."""
    name = cls.spec.name
    if name in _EXTRACTORS and _EXTRACTORS[name] is not cls:
        raise ValueError(f"feature {name!r} is registered twice")
    _EXTRACTORS[name] = cls
    return cls


def _load_builtin_features() -> None:
    # Imported for their @register_extractor side effect.
    from . import cnn, colour, hashes, texture  # noqa: F401


def feature_names() -> list[str]:
    _load_builtin_features()
    return list(_EXTRACTORS)


def get_spec(name: str) -> FeatureSpec:
    _load_builtin_features()
    try:
        return _EXTRACTORS[name].spec
    except KeyError:
        raise UnknownFeature(name, list(_EXTRACTORS)) from None


def get_extractor(name: str) -> Extractor:
    """One shared instance per feature (models are loaded once per process)."""
    spec = get_spec(name)
    if name not in _INSTANCES:
        _INSTANCES[name] = _EXTRACTORS[spec.name]()
    return _INSTANCES[name]


def all_specs() -> list[FeatureSpec]:
    return [get_spec(name) for name in feature_names()]



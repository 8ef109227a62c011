"""Features by name: `@register_extractor` declares one, `get_extractor("phash")` builds it."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from ..errors import UnknownFeature
from .base import Extractor, FeatureSpec

E = TypeVar("E", bound=type[Extractor])

_EXTRACTORS: dict[str, type[Extractor]] = {}
_INSTANCES: dict[str, Extractor] = {}
_FROM_FILES: dict[str, FeatureSpec] = {}


def register_extractor(cls: E) -> E:
    """Class decorator: make an extractor available under `cls.spec.name`."""
    name = cls.spec.name
    if name in _EXTRACTORS and _EXTRACTORS[name] is not cls:
        raise ValueError(f"feature {name!r} is registered twice")
    _EXTRACTORS[name] = cls
    return cls


def _load_builtin_features() -> None:
    # Imported for their @register_extractor side effect.
    from . import cnn, colour, hashes, regions, texture  # noqa: F401


def feature_names() -> list[str]:
    _load_builtin_features()
    return list(_EXTRACTORS)


def get_spec(name: str) -> FeatureSpec:
    _load_builtin_features()
    if name in _FROM_FILES:
        return _FROM_FILES[name]
    try:
        return _EXTRACTORS[name].spec
    except KeyError:
        raise UnknownFeature(name, list(_EXTRACTORS) + list(_FROM_FILES)) from None


def get_extractor(name: str) -> Extractor:
    """One shared instance per feature (models are loaded once per process)."""
    spec = get_spec(name)
    if name not in _INSTANCES:
        _INSTANCES[name] = _EXTRACTORS[spec.name]()
    return _INSTANCES[name]


def register_model_file(path: str | Path) -> FeatureSpec:
    """Make a trained model file's feature available by its name (kind-sha8)."""
    from .learned import LearnedExtractor, read_model_file

    model = read_model_file(path)
    if model.feature_name not in _FROM_FILES:
        extractor = LearnedExtractor(model)
        _INSTANCES[model.feature_name] = extractor
        _FROM_FILES[model.feature_name] = extractor.spec
    return _FROM_FILES[model.feature_name]


def all_specs() -> list[FeatureSpec]:
    return [get_spec(name) for name in feature_names()]



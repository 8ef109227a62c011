"""Fusing per-feature similarities into one score in [0, 1], and naming the kind of match.

Each feature's raw similarity is first mapped onto a common scale with two anchors from
its FeatureSpec: `far` (typical of unrelated images) -> 0.3 and `near` (typical of
copies) -> 0.8, linear in between and beyond. Then:

- copy evidence = max(hash evidence, embedding evidence): hashes survive recompression,
  rescaling and grey conversion, the embedding survives rotation, mirroring and crops, so
  either one vouching for a copy is enough. Hash evidence is the mean over the hashes and
  is capped at embedding evidence + 0.4, so flat or synthetic images whose hashes collide
  by chance are not called copies when the embedding sees two different pictures.
- score = 0.9 x copy evidence + 0.1 x mean(colour, texture): colour and texture order
  the look-alikes without outvoting the copy detectors.
Missing families (a store without embeddings, say) simply drop out.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .features.base import FeatureSpec
from .records import Tier

FAR_LEVEL = 0.3
NEAR_LEVEL = 0.8
HASH_CAP_ABOVE_EMBEDDING = 0.4
COPY_WEIGHT = 0.9
EXACT_MIN_SIMILARITY = 0.995


def calibrate(spec: FeatureSpec, raw: np.ndarray) -> np.ndarray:
    """Raw similarity -> common scale (far -> 0.3, near -> 0.8, 1 -> 1)."""
    raw = np.asarray(raw, dtype=np.float64)
    return np.interp(raw, [0.0, spec.far, spec.near, 1.0], [0.0, FAR_LEVEL, NEAR_LEVEL, 1.0])


def raw_for_calibrated(spec: FeatureSpec, level: float) -> float:
    """The raw similarity at which `calibrate` reaches `level` (its inverse)."""
    return float(np.interp(level, [0.0, FAR_LEVEL, NEAR_LEVEL, 1.0], [0.0, spec.far, spec.near, 1.0]))


def fuse(specs: Sequence[FeatureSpec], raw: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fused score for arrays of raw similarities (all the same shape), one per feature."""
    levels: dict[str, list[np.ndarray]] = {}
    for spec in specs:
        levels.setdefault(spec.family, []).append(calibrate(spec, raw[spec.name]))
    family = {name: np.mean(values, axis=0) for name, values in levels.items()}
    hashes, embedding = family.get("hash"), family.get("embedding")
    if hashes is not None and embedding is not None:
        copy = np.maximum(np.minimum(hashes, embedding + HASH_CAP_ABOVE_EMBEDDING), embedding)
    else:
        copy = hashes if hashes is not None else embedding
    looks = [family[name] for name in ("colour", "texture") if name in family]
    if copy is None:
        return np.mean(looks, axis=0)
    if not looks:
        return copy
    return COPY_WEIGHT * copy + (1.0 - COPY_WEIGHT) * np.mean(looks, axis=0)


def hash_evidence(specs: Sequence[FeatureSpec], raw: Mapping[str, np.ndarray | float]) -> np.ndarray | None:
    """The hash family's calibrated level (mean over the hashes) for raw similarities (arrays
    or single numbers), None without hashes: at NEAR_LEVEL and above, the hashes alone call
    the pair the same picture."""
    levels = [calibrate(spec, np.asarray(raw[spec.name])) for spec in specs if spec.family == "hash" and spec.name in raw]
    return np.mean(levels, axis=0) if levels else None


def is_visually_identical(specs: Sequence[FeatureSpec], raw: Mapping[str, float]) -> bool:
    """Every hash bit equal and every float feature at >= 0.995: the same picture."""
    for spec in specs:
        needed = 1.0 if spec.kind == "binary" else EXACT_MIN_SIMILARITY
        if raw[spec.name] < needed - 1e-9:
            return False
    return True


def tier_of(score: float, same_file: bool, identical: bool, min_near_duplicate: float) -> Tier:
    if same_file or identical:
        return "exact"
    return "near-duplicate" if score >= min_near_duplicate else "similar"

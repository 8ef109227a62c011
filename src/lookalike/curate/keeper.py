"""Choosing the copy to keep in a group: an ordered policy of named rules.

A policy is a comma-separated list of rule names ("original,prefer,pixels,quality,metadata,older",
the default). Each rule gives every candidate file a value (higher is better, None when it
cannot tell); the candidates within the rule's tolerance of the best go on to the next
rule, the others are out, and the first rule that leaves one candidate decides. Every rule
that put a candidate out adds its reason. Files still tied after the last rule are told
apart by their path (shortest, then alphabetical), and the reason says so.

The default is what a photographer would pick by hand: never an edited copy over its
original (a caption, a frame, a crop, a grey copy: `provenance`; this rule comes first in
every policy, named or not), then a file in a folder
they prefer (`--prefer`), then the most pixels, the least compression, the richest camera
metadata, and the oldest file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import UnknownKeepRule
from ..records import ImageRecord
from ..scoring import MTIME_TOLERANCE_S, PIXELS_TOLERANCE, QUALITY_TOLERANCE
from .facts import LOSSLESS_QUALITY, FileFacts

DEFAULT_RULES = "original,prefer,pixels,quality,metadata,older"


@dataclass(frozen=True)
class Candidate:
    """One file of a group that could be kept."""

    path: str
    image: ImageRecord
    facts: FileFacts
    edits: tuple[str, ...] = ()  # why it is an edited copy of another member (`provenance`)


@dataclass(frozen=True)
class Context:
    prefer: tuple[str, ...] = ()  # resolved folders, most preferred first


@dataclass(frozen=True)
class Rule:
    name: str
    summary: str
    value: Callable[[Candidate, Context], float | None]
    tied: Callable[[float, float], bool]  # (a value, the best) -> as good
    because: Callable[[Candidate], str]  # what the kept candidate has, in words


@dataclass(frozen=True)
class Choice:
    keeper: Candidate
    reason: str
    decided_by: str | None  # the rule that decided, None for the path tie-break
    steps: tuple[str, ...] = field(default=())


def _original(candidate: Candidate, _: Context) -> float:
    return -float(len(candidate.edits))


def _prefer(candidate: Candidate, context: Context) -> float:
    for rank, folder in enumerate(context.prefer):
        if candidate.path.startswith(folder.rstrip("/") + "/"):
            return float(len(context.prefer) - rank)
    return 0.0


def _pixels(candidate: Candidate, _: Context) -> float | None:
    return float(candidate.facts.pixels or candidate.image.width * candidate.image.height) or None


def _quality(candidate: Candidate, _: Context) -> float | None:
    return None if candidate.facts.quality is None else float(candidate.facts.quality)


def _metadata(candidate: Candidate, _: Context) -> float:
    return float(candidate.facts.metadata_fields)


def _older(candidate: Candidate, _: Context) -> float:
    return -candidate.facts.mtime_ns / 1e9


def _quality_words(candidate: Candidate) -> str:
    quality = candidate.facts.quality
    return f"lossless {candidate.facts.format}" if quality == LOSSLESS_QUALITY else f"JPEG quality ~{quality}"


def _metadata_words(candidate: Candidate) -> str:
    parts = [f"taken {candidate.facts.taken}" if candidate.facts.taken else "",
             f"camera {candidate.facts.camera}" if candidate.facts.camera else ""]
    return "richer metadata" + (f" ({', '.join(p for p in parts if p)})" if any(parts) else "")


RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule("original", "the original over an edited copy (caption, frame, crop, grey)", _original,
         lambda value, best: value >= best, lambda c: "the original, not an edited copy"),
    Rule("prefer", "a file in a --prefer folder (the first named first)", _prefer,
         lambda value, best: value >= best, lambda c: "in a preferred folder"),
    Rule("pixels", "more pixels", _pixels,
         lambda value, best: value >= best * (1 - PIXELS_TOLERANCE),
         lambda c: f"more pixels ({c.facts.width or c.image.width}x{c.facts.height or c.image.height})"),
    Rule("quality", "less compression: lossless over lossy, then the higher JPEG quality", _quality,
         lambda value, best: value >= best - QUALITY_TOLERANCE, _quality_words),
    Rule("metadata", "richer metadata: EXIF date, camera make and model, GPS, lens", _metadata,
         lambda value, best: value >= best, _metadata_words),
    Rule("older", "the older file (modification time)", _older,
         lambda value, best: value >= best - MTIME_TOLERANCE_S, lambda c: "the oldest file"),
)}


def parse_rules(text: str | Sequence[str] | None) -> list[Rule]:
    """Rules from "pixels,quality" (or a list of names); None or "" gives the default.
    "original" always comes first, named or not: an edited copy (captioned, framed,
    cropped, grey) is never kept over its original, whatever else a policy prefers."""
    names = text if isinstance(text, (list, tuple)) else (text or DEFAULT_RULES).split(",")
    rules = [RULES["original"]]
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        if name not in RULES:
            raise UnknownKeepRule(name, list(RULES))
        if RULES[name] not in rules:
            rules.append(RULES[name])
    return rules


def resolve_folders(folders: Sequence[str | Path]) -> tuple[str, ...]:
    return tuple(os.path.realpath(Path(folder).expanduser()) for folder in folders)


def choose_keeper(candidates: Sequence[Candidate], rules: Sequence[Rule], context: Context) -> Choice:
    """The candidate the rules keep, and why (see the module docstring)."""
    if not candidates:
        raise ValueError("no candidate to keep")
    remaining = list(candidates)
    steps: list[str] = []
    for rule in rules:
        if len(remaining) == 1:
            break
        values = {c.path: rule.value(c, context) for c in remaining}
        known = [v for v in values.values() if v is not None]
        if not known:
            continue
        best = max(known)
        kept = [c for c in remaining if values[c.path] is None or rule.tied(values[c.path], best)]
        if len(kept) < len(remaining):
            steps.append(f"{rule.name}: {rule.because(kept[0])}")
            remaining = kept
    ordered = sorted(remaining, key=lambda c: (len(c.path), c.path))
    decided = steps[-1].split(":")[0] if steps else None
    if len(ordered) > 1:
        identical = len({c.image.sha256 for c in ordered}) == 1
        steps.append(f"{'identical files' if identical else 'tie'}: the shortest path")
        decided = None
    edits = [f"{Path(c.path).name} is a {c.edits[0]}" for c in candidates if c is not ordered[0] and c.edits]
    reason = "; ".join(steps) or "the only file"
    if edits:
        reason += " (" + "; ".join(edits) + ")"
    return Choice(ordered[0], reason, decided, tuple(steps))

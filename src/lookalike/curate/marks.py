"""What people said about duplicate groups, so they are never asked twice:

- "distinct" (not duplicates): a false match. Its images are never linked to each other
  again: a marked pair's link is cut and the group split along it (the other links of the
  group are scored again to see what still holds together);
- "keep" (keep both, or all): real duplicates, all of them wanted. No action is proposed on
  them, and a group whose images are all kept that way is not shown again.

Files a move-to run set aside (in its folder, until it is undone) count as dealt with too.

Marks name images by content (SHA-256), so they survive re-indexing, moves and renames.
They export to JSON and import from it (another machine's store, a backup).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Sequence

import numpy as np

from ..catalog.dedup_book import MARK_KINDS, DedupBook
from ..dedup import score_pairs
from ..errors import LookalikeError
from ..records import DuplicateGroup
from ..store import Store

EXPORT_FORMAT = "lookalike-dedup-marks/1"


@dataclass(frozen=True)
class Marks:
    """The marks in force: pairs never linked, and sets of images all kept."""

    distinct: frozenset[frozenset[str]]
    kept: tuple[frozenset[str], ...]
    set_aside: tuple[str, ...] = ()  # folders move-to runs filled: their files are dealt with

    @classmethod
    def read(cls, book: DedupBook) -> "Marks":
        distinct, kept = set(), []
        for mark in book.marks():
            if mark.kind == "distinct":
                distinct.update(frozenset(pair) for pair in combinations(mark.members, 2))
            else:
                kept.append(frozenset(mark.members))
        return cls(frozenset(distinct), tuple(kept), tuple(book.set_aside()))

    def aside(self, path: str) -> bool:
        """A file a move-to run set aside (in its folder): never proposed again."""
        return any(path.startswith(folder.rstrip("/") + "/") for folder in self.set_aside)

    def exempt(self, shas: Sequence[str]) -> set[str]:
        """The images of a group that a "keep" mark keeps: those sharing a mark with
        another member (a one-image mark keeps every file of that image)."""
        present = set(shas)
        out: set[str] = set()
        for members in self.kept:
            inside = members & present
            if len(inside) >= 2 or (len(inside) == 1 and len(members) == 1):
                out |= inside
        return out

    def resolved(self, group: DuplicateGroup) -> bool:
        """Every image of the group is kept by a mark, or fewer than two of its files are
        outside the folders move-to runs filled: nothing left to decide."""
        shas = [image.sha256 for image in group.images]
        if self.set_aside and sum(not self.aside(p) for image in group.images for p in image.paths) < 2:
            return True
        return set(shas) <= self.exempt(shas)


def honour_marks(store: Store, groups: Sequence[DuplicateGroup], marks: Marks, threshold: float) -> list[DuplicateGroup]:
    """The groups as the marks leave them: split where a "distinct" mark cuts a link, and
    without those a "keep" mark resolves; largest first, as `find_duplicates` gives them."""
    out: list[DuplicateGroup] = []
    for group in groups:
        parts = _split(store, group, marks.distinct, threshold) if _cut(group, marks.distinct) else [group]
        out.extend(part for part in parts if not marks.resolved(part))
    out.sort(key=lambda g: (-sum(len(i.paths) for i in g.images), g.images[0].id))
    return out


def _cut(group: DuplicateGroup, distinct: frozenset[frozenset[str]]) -> bool:
    return any(frozenset((a.sha256, b.sha256)) in distinct for a, b in combinations(group.images, 2))


def _split(store: Store, group: DuplicateGroup, distinct: frozenset[frozenset[str]], threshold: float) -> list[DuplicateGroup]:
    """The group's links scored again, the marked ones cut, the connected parts kept (a
    single image stays a group only when it has several identical files)."""
    images = list(group.images)
    pairs = np.array([(a.id, b.id) for a, b in combinations(images, 2)], dtype=np.int64).reshape(-1, 2)
    scores = dict(zip(map(tuple, pairs.tolist()), score_pairs(store, pairs))) if len(pairs) else {}
    parent = {image.id: image.id for image in images}

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    by_id = {image.id: image for image in images}
    for (a, b), score in scores.items():
        if score >= threshold and frozenset((by_id[a].sha256, by_id[b].sha256)) not in distinct:
            parent[max(root(a), root(b))] = min(root(a), root(b))
    parts: dict[int, list[int]] = {}
    for image in images:
        parts.setdefault(root(image.id), []).append(image.id)
    out = []
    for members in parts.values():
        if len(members) == 1 and len(by_id[members[0]].paths) < 2:
            continue
        links = [scores[(a, b)] for a, b in combinations(sorted(members), 2)]
        out.append(DuplicateGroup(tuple(by_id[i] for i in members), float(min(links)) if links else 1.0))
    return out


def export_marks(book: DedupBook, store: Store) -> dict[str, Any]:
    """Every mark as JSON, with each image's current paths for people reading it."""
    marks = book.marks()
    shas = {sha for mark in marks for sha in mark.members}
    paths = {sha: [] for sha in shas}
    for sha in shas:
        image_id = store.image_id_for_sha256(sha)
        if image_id is not None:
            record = store.image(image_id)
            paths[sha] = list(record.paths) if record else []
    return {"format": EXPORT_FORMAT, "marks": [
        {"kind": mark.kind, "members": list(mark.members), "paths": {sha: paths[sha] for sha in mark.members},
         "note": mark.note, "created_at": mark.created_at} for mark in marks]}


def import_marks(book: DedupBook, data: dict[str, Any]) -> int:
    """Add the marks of an export (those already here are kept once); how many it held."""
    if data.get("format") != EXPORT_FORMAT:
        raise LookalikeError(f"not an export of lookalike's dedup marks (format {data.get('format')!r}, "
                         f"expected {EXPORT_FORMAT!r})")
    entries = data.get("marks", [])
    for entry in entries:
        if entry.get("kind") not in MARK_KINDS or not entry.get("members"):
            raise LookalikeError(f"not a mark: {entry!r} (each needs a kind, distinct or keep, and members)")
    for entry in entries:
        book.add_mark(entry["kind"], entry["members"], entry.get("note"))
    return len(entries)

"""A dedup plan: each group's keeper with its reason, and what the action would do to the
other files. Making one touches nothing (the dry run prints it); `actions.apply_plan` acts on it.

A group's files are the paths of its images (identical files are one image with several
paths). Files no longer on disk are left out (they can be neither kept nor acted on), and
files a "keep" mark keeps, or that are hard links of the keeper already, stay where they are.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..decode import load_image
from ..errors import DecodeError, LookalikeError
from ..records import DuplicateGroup, ImageRecord
from ..rerank.keypoints import DECODE_MIN_SIDE
from ..store import Store
from .facts import file_facts
from .keeper import Candidate, Context, choose_keeper, parse_rules, resolve_folders
from .marks import Marks
from .provenance import Picture, edited_copies

ACTIONS = ("move-to", "trash", "hardlink", "symlink", "delete")
UNDOABLE = frozenset({"move-to", "trash", "hardlink", "symlink"})
ACTION_WORDS = {"move-to": "move to {target}", "trash": "move to the trash", "hardlink": "replace by a hard link to the keeper",
                "symlink": "replace by a symbolic link to the keeper", "delete": "delete (cannot be undone)"}


@dataclass(frozen=True)
class PlannedGroup:
    key: str  # the group's image ids, "12-15-33": names it in requests (`keepers`)
    group: DuplicateGroup
    keeper: str
    reason: str
    act: tuple[str, ...]  # the files the action would touch
    kept: tuple[str, ...] = ()  # files a "keep" mark keeps
    missing: tuple[str, ...] = ()  # recorded files no longer on disk

    def image_of(self, path: str) -> ImageRecord:
        return next(image for image in self.group.images if path in image.paths)

    def to_dict(self) -> dict[str, Any]:
        return {**self.group.to_dict(), "key": self.key, "keeper": self.keeper, "reason": self.reason,
                "act": list(self.act), "kept": list(self.kept), "missing": list(self.missing)}


@dataclass(frozen=True)
class DedupPlan:
    action: str | None  # None: only the keepers (no action chosen)
    target: str | None  # move-to's folder
    rules: str
    groups: tuple[PlannedGroup, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        files = [path for group in self.groups for path in group.act]
        sizes = {path: group.image_of(path).bytes for group in self.groups for path in group.act}
        words = ACTION_WORDS.get(self.action or "", "nothing (choose an action)").format(target=self.target)
        return {"action": self.action, "target": self.target, "groups": len(self.groups), "files": len(files),
                "bytes": sum(sizes.values()), "undoable": self.action in UNDOABLE,
                "text": f"{len(files)} file(s) in {len(self.groups)} group(s) would be: {words}"}

    def to_dict(self) -> dict[str, Any]:
        return {"rules": self.rules, "summary": self.summary(), "groups": [g.to_dict() for g in self.groups]}

    def csv_text(self) -> str:
        """One row per file: group, role (keep, act, kept, missing), path, size, the reason."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["group", "role", "path", "image_id", "width", "height", "bytes", "action", "reason"])
        for number, group in enumerate(self.groups, start=1):
            roles = [("keep", group.keeper)] + [("act", p) for p in group.act] + [("kept", p) for p in group.kept]
            for role, path in roles + [("missing", p) for p in group.missing]:
                image = group.image_of(path)
                writer.writerow([number, role, path, image.id, image.width, image.height, image.bytes,
                                 self.action if role == "act" else "", group.reason if role == "keep" else ""])
        return out.getvalue()


def check_action(action: str | None, target: str | Path | None) -> str | None:
    """The move-to folder resolved; raises for an unknown action or a missing folder."""
    if action is None:
        return None
    if action not in ACTIONS:
        raise LookalikeError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if action == "move-to":
        if target is None:
            raise LookalikeError("move-to needs the folder to move the duplicates to (--to DIR)")
        return str(Path(target).expanduser().resolve())
    return None


def make_plan(store: Store, groups: Sequence[DuplicateGroup], marks: Marks, *, rules: str | Sequence[str] | None = None,
              prefer: Sequence[str | Path] = (), action: str | None = None, target: str | Path | None = None,
              keepers: Mapping[str, str] | None = None) -> DedupPlan:
    """The plan for `groups` (marks already honoured). `keepers` maps a group's key to the
    file to keep instead of the rules' choice (a person's click)."""
    parsed = parse_rules(rules)
    context = Context(resolve_folders(prefer))
    target = check_action(action, target)
    want_provenance = any(rule.name == "original" for rule in parsed)
    planned = [_plan_group(store, group, marks, parsed, context, want_provenance, (keepers or {}))
               for group in groups]
    return DedupPlan(action, target, ",".join(rule.name for rule in parsed), tuple(p for p in planned if p))


def one_file(group: DuplicateGroup) -> bool:
    """The group is one image whose files on disk are all hard links of one file: nothing to
    gain (a `hardlink` run leaves such groups behind)."""
    if len(group.images) != 1:
        return False
    files = {(info.st_dev, info.st_ino) for info in (_stat(path) for path in group.images[0].paths) if info}
    return len(files) <= 1


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def group_key(group: DuplicateGroup) -> str:
    return "-".join(str(image_id) for image_id in sorted(image.id for image in group.images))


def _plan_group(store: Store, group: DuplicateGroup, marks: Marks, rules: list, context: Context,
                want_provenance: bool, keepers: Mapping[str, str]) -> PlannedGroup | None:
    key = group_key(group)
    present = list({path: image for image in reversed(group.images) for path in image.paths
                    if Path(path).is_file() and not marks.aside(path)}.items())[::-1]  # a file once
    missing = tuple(path for image in group.images for path in image.paths if not Path(path).is_file())
    if len(present) < 2:
        return None
    edits = _edits(store, group, present) if want_provenance else {}
    candidates = [Candidate(path, image, file_facts(path), tuple(edits.get(image.sha256, ())))
                  for path, image in present]
    chosen = keepers.get(key)
    if chosen is not None:
        keeper = next((c for c in candidates if c.path == chosen), None)
        if keeper is None:
            raise LookalikeError(f"{chosen}: not a file of group {key} on disk; keep one of "
                                 f"{', '.join(c.path for c in candidates)}")
        reason = "chosen by hand"
    else:
        choice = choose_keeper(candidates, rules, context)
        keeper, reason = choice.keeper, choice.reason
    exempt = marks.exempt([image.sha256 for image in group.images])
    linked = {c.path for c in candidates if c is not keeper and os.path.samefile(c.path, keeper.path)}
    act = tuple(c.path for c in candidates if c is not keeper and c.image.sha256 not in exempt and c.path not in linked)
    kept = tuple(c.path for c in candidates if c is not keeper and (c.image.sha256 in exempt or c.path in linked))
    return PlannedGroup(key, group, keeper.path, reason, act, kept, missing)


def _edits(store: Store, group: DuplicateGroup, present: list[tuple[str, ImageRecord]]) -> dict[str, list[str]]:
    """`provenance.edited_copies` over one decoded file of each image of the group."""
    pictures, seen = [], set()
    for path, image in present:
        if image.sha256 in seen:
            continue
        seen.add(image.sha256)
        try:
            decoded = load_image(path, min_side=DECODE_MIN_SIDE, max_pixels=store.settings.max_pixels,
                                 max_bytes=store.settings.max_bytes)
        except (DecodeError, OSError):
            continue
        pictures.append(Picture(image.sha256, Path(path).name, decoded.image, (decoded.width, decoded.height)))
    return edited_copies(pictures)

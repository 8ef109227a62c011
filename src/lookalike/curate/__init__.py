"""Deduplicating for real: choose each group's keeper, act on the other copies safely (a
dry run first, a journal, undo), and remember what people said so they are never asked twice.

One module per concern:

- `facts`: what a file says about itself (pixels, JPEG quality, EXIF date and camera);
- `provenance`: which copies are edited versions of another (caption, frame, crop, grey);
- `keeper`: the ordered, named keeper rules and the choice with its reason;
- `marks`: "not duplicates" and "keep both", honoured when groups are listed;
- `plan`: a group's keeper and what the action would do (the dry run), as JSON or CSV;
- `actions`: apply a plan with the action journal, settle a crashed run, undo;
- `trash`: the freedesktop.org trash, with restore.

The full reference is docs/dedup.md.
"""

from .actions import RunReport, UndoReport, apply_plan, undo_last, verify_unchanged
from .keeper import DEFAULT_RULES, RULES, choose_keeper, parse_rules
from .marks import Marks, export_marks, honour_marks, import_marks
from .plan import ACTIONS, UNDOABLE, DedupPlan, PlannedGroup, group_key, make_plan

__all__ = [
    "ACTIONS", "DEFAULT_RULES", "RULES", "UNDOABLE", "DedupPlan", "Marks", "PlannedGroup", "RunReport", "UndoReport",
    "apply_plan", "choose_keeper", "export_marks", "group_key", "honour_marks", "import_marks", "make_plan",
    "parse_rules", "undo_last", "verify_unchanged",
]

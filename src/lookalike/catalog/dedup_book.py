"""The catalog's record of deduplication (`migrations.m008_dedup_marks_and_actions`): the
action journal (runs and their steps) and the marks people left on groups.

Every write is one statement in autocommit mode, so it is on disk (the catalog's write-ahead
log) before the caller goes on to touch a file: a step is journaled `pending` before its
file is touched and set `done` after, which is what lets `lookalike.curate.actions` finish
or undo a run that a crash cut short.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

RUN_STATES = ("running", "done", "undone")
STEP_STATES = ("pending", "done", "undone", "abandoned", "failed")
MARK_KINDS = ("distinct", "keep")


@dataclass(frozen=True)
class JournalRun:
    id: int
    action: str
    target: str | None
    rules: str
    state: str
    started_at: str
    finished_at: str | None


@dataclass(frozen=True)
class JournalStep:
    """One file acted on: where it was (`path`, with the size, mtime and content it had),
    the copy kept for it (`keeper`), where it went (`destination`: the moved or trashed
    file, or the backup of a linked file's own bytes) and how far it got (`state`)."""

    id: int
    run_id: int
    action: str
    path: str
    keeper: str
    sha256: str
    size: int
    mtime_ns: int
    label: str | None
    destination: str | None
    state: str
    error: str | None


@dataclass(frozen=True)
class MarkRow:
    id: int
    kind: str  # "distinct": not duplicates; "keep": duplicates, all kept
    members: tuple[str, ...]  # SHA-256 of each image, sorted
    note: str | None
    created_at: str


_RUN_COLUMNS = "id, action, target, rules, state, started_at, finished_at"
_STEP_COLUMNS = "id, run_id, action, path, keeper, sha256, size, mtime_ns, label, destination, state, error"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class DedupBook:
    """Reads and writes the dedup tables over the catalog's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    # --- runs and steps -----------------------------------------------------------------------

    def start_run(self, action: str, target: str | None, rules: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO dedup_runs (action, target, rules, state, started_at) VALUES (?, ?, ?, 'running', ?)",
            (action, target, rules, _now()),
        )
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, state: str) -> None:
        self.db.execute("UPDATE dedup_runs SET state = ?, finished_at = ? WHERE id = ?", (state, _now(), run_id))

    def run(self, run_id: int) -> JournalRun | None:
        row = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM dedup_runs WHERE id = ?", (run_id,)).fetchone()
        return JournalRun(*row) if row else None

    def runs(self, states: Sequence[str] = RUN_STATES) -> list[JournalRun]:
        """Runs in those states, newest first."""
        marks = ",".join("?" * len(states))
        rows = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM dedup_runs WHERE state IN ({marks}) ORDER BY id DESC",
                               tuple(states)).fetchall()
        return [JournalRun(*row) for row in rows]

    def set_aside(self) -> list[str]:
        """The folders move-to runs (applied or interrupted, not undone) moved copies into."""
        rows = self.db.execute("SELECT DISTINCT target FROM dedup_runs WHERE action = 'move-to' AND state != 'undone' "
                               "AND target IS NOT NULL").fetchall()
        return [row[0] for row in rows]

    def add_step(self, run_id: int, action: str, path: str, keeper: str, sha256: str, size: int, mtime_ns: int,
                 label: str | None, destination: str | None) -> int:
        """Journal a step as `pending`: call before touching the file."""
        cursor = self.db.execute(
            "INSERT INTO dedup_steps (run_id, action, path, keeper, sha256, size, mtime_ns, label, destination, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
            (run_id, action, path, keeper, sha256, size, mtime_ns, label, destination),
        )
        return int(cursor.lastrowid)

    def set_destination(self, step_id: int, destination: str) -> None:
        self.db.execute("UPDATE dedup_steps SET destination = ? WHERE id = ?", (destination, step_id))

    def set_step(self, step_id: int, state: str, error: str | None = None) -> None:
        self.db.execute("UPDATE dedup_steps SET state = ?, error = ? WHERE id = ?", (state, error, step_id))

    def step(self, step_id: int) -> JournalStep:
        return JournalStep(*self.db.execute(f"SELECT {_STEP_COLUMNS} FROM dedup_steps WHERE id = ?", (step_id,)).fetchone())

    def steps(self, run_id: int) -> list[JournalStep]:
        rows = self.db.execute(f"SELECT {_STEP_COLUMNS} FROM dedup_steps WHERE run_id = ? ORDER BY id",
                               (run_id,)).fetchall()
        return [JournalStep(*row) for row in rows]

    # --- marks ----------------------------------------------------------------------------------

    def add_mark(self, kind: str, members: Sequence[str], note: str | None = None) -> int:
        """Record a mark (the same kind over the same images is recorded once); its id."""
        if kind not in MARK_KINDS:
            raise ValueError(f"mark kind {kind!r}: one of {', '.join(MARK_KINDS)}")
        key = json.dumps(sorted(set(members)))
        self.db.execute("INSERT OR IGNORE INTO dedup_marks (kind, members, note, created_at) VALUES (?, ?, ?, ?)",
                        (kind, key, note, _now()))
        row = self.db.execute("SELECT id FROM dedup_marks WHERE kind = ? AND members = ?", (kind, key)).fetchone()
        return int(row[0])

    def remove_mark(self, mark_id: int) -> bool:
        return bool(self.db.execute("DELETE FROM dedup_marks WHERE id = ?", (mark_id,)).rowcount)

    def marks(self) -> list[MarkRow]:
        rows = self.db.execute("SELECT id, kind, members, note, created_at FROM dedup_marks ORDER BY id").fetchall()
        return [MarkRow(row[0], row[1], tuple(json.loads(row[2])), row[3], row[4]) for row in rows]

    def marks_revision(self) -> tuple[int, int]:
        """Changes whenever a mark is added or removed (a key for cached duplicate groups)."""
        row = self.db.execute("SELECT COUNT(*), coalesce(max(id), 0) FROM dedup_marks").fetchone()
        return int(row[0]), int(row[1])

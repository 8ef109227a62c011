"""Acting on a dedup plan safely, and undoing it.

Every file goes through the same steps: checked against the catalog (size, modification
time and content hash as indexed: a file changed since is refused, and so is every file of
a group whose keeper changed or is gone), journaled `pending` in the catalog, acted on,
followed in the catalog (moved paths recorded at their new place, removed ones forgotten,
linked ones pointed at the keeper's content), then journaled `done`. The keeper is never
acted on, so no picture loses its last copy.

A crash (even kill -9) leaves at most one step `pending`. The next `apply_plan` or
`undo_last` first settles it from what the files show: a step whose file was already
moved, trashed, linked or deleted is finished (the catalog follows), any other is
abandoned and its leftovers (a reserved trash name, a half-made link, a partial copy)
removed. A run is undone step by step in reverse: moved and trashed files go back, links
are replaced by the bytes the file had (the keeper's, for byte-identical copies; for other
copies, the backup made before linking, in `Layout.dedup`). Deletions cannot be undone.

One process acts at a time: the run holds an exclusive lock on `Layout.dedup/lock`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..catalog.dedup_book import DedupBook, JournalStep
from ..errors import FileChanged, LookalikeError, NothingToUndo
from ..indexing import forget_removed, index_files
from ..layout import Layout
from ..records import ImageRecord
from ..scan import look_at
from ..store import Store
from . import trash
from .plan import UNDOABLE, DedupPlan

# (event, path): "journaled" before a file is touched, "acted" once it was, "done" once the
# catalog follows; "undone" for each file put back. For progress bars and crash tests.
StepHook = Callable[[str, str], None]
TEMPORARY_SUFFIX = ".lookalike-tmp"


@dataclass
class RunReport:
    run_id: int | None
    action: str
    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    settled: int = 0  # steps of an interrupted run finished or abandoned first

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "action": self.action, "done": self.done, "settled": self.settled,
                "refused": [{"path": path, "reason": why} for path, why in self.refused]}


@dataclass
class UndoReport:
    run_id: int
    action: str
    restored: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "action": self.action, "restored": self.restored,
                "failed": [{"path": path, "reason": why} for path, why in self.failed]}


def apply_plan(store: Store, plan: DedupPlan, on_event: StepHook | None = None) -> RunReport:
    """Act on every file the plan names (see the module docstring)."""
    if plan.action is None:
        raise LookalikeError("the plan has no action: choose one (move-to, trash, hardlink, symlink, delete)")
    book = store.dedup_book()
    hook = on_event or (lambda event, path: None)
    with _acting(store):
        settled = _settle_interrupted(store, book)
        run_id = book.start_run(plan.action, plan.target, plan.rules)
        report = RunReport(run_id, plan.action, settled=settled)
        number = 0
        for group in plan.groups:
            try:
                verify_unchanged(store, group.keeper)
            except FileChanged as exc:
                report.refused += [(path, f"its keeper {exc.path}: {exc.what}") for path in group.act]
                continue
            for path in group.act:
                number += 1
                try:
                    _act(store, book, run_id, number, plan, path, group.keeper, hook)
                    report.done.append(path)
                except FileChanged as exc:
                    report.refused.append((path, exc.what))
                except OSError as exc:
                    report.refused.append((path, str(exc)))
        book.finish_run(run_id, "done")
    return report


def undo_last(store: Store, on_event: StepHook | None = None) -> UndoReport:
    """Undo the newest run that can be undone (see the module docstring)."""
    book = store.dedup_book()
    hook = on_event or (lambda event, path: None)
    with _acting(store):
        _settle_interrupted(store, book)
        run = next((r for r in book.runs(("done",)) if r.action in UNDOABLE), None)
        if run is None:
            raise NothingToUndo()
        report = UndoReport(run.id, run.action)
        for step in reversed(book.steps(run.id)):
            if step.state != "done":
                continue
            try:
                _undo(store, step)
                book.set_step(step.id, "undone")
                report.restored.append(step.path)
                hook("undone", step.path)
            except (OSError, FileChanged) as exc:
                report.failed.append((step.path, str(exc)))
        if not report.failed:
            book.finish_run(run.id, "undone")
    return report


def verify_unchanged(store: Store, path: str) -> ImageRecord:
    """The image a file holds, if it is still as indexed; raises `FileChanged` if not."""
    state = store.path_state(path)
    if state is None:
        raise FileChanged(path, "no longer recorded in the collection")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise FileChanged(path, "gone") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise FileChanged(path, "no longer a plain file")
    if (info.st_mtime_ns, info.st_size) != (state[1], state[2]):
        raise FileChanged(path, "its size or modification time changed")
    image = store.image(state[0])
    if image is None or _sha256(path) != image.sha256:
        raise FileChanged(path, "its content changed")
    return image


# --- one step ----------------------------------------------------------------------------------


def _act(store: Store, book: DedupBook, run_id: int, number: int, plan: DedupPlan, path: str, keeper: str,
         hook: StepHook) -> None:
    image = verify_unchanged(store, path)
    if os.path.realpath(path) == os.path.realpath(keeper):
        raise FileChanged(path, "it is the keeper itself")
    if not os.path.isfile(keeper):
        raise FileChanged(keeper, "the keeper is gone")
    if plan.action in ("hardlink", "symlink") and os.path.samefile(path, keeper):
        raise FileChanged(path, "already the same file as the keeper")
    size, mtime_ns = os.stat(path).st_size, os.stat(path).st_mtime_ns
    destination = _destination(store, run_id, number, plan, path, keeper, image)
    step_id = book.add_step(run_id, plan.action, path, keeper, image.sha256, size, mtime_ns, image.label, destination)
    hook("journaled", path)
    try:
        destination = _perform(book, step_id, plan.action, path, keeper, destination)
    except BaseException as exc:
        _clean_up(plan.action, path, book.step(step_id).destination)
        book.set_step(step_id, "failed", str(exc))
        raise
    hook("acted", path)
    _follow(store, plan.action, path, destination, image.label)
    book.set_step(step_id, "done")
    hook("done", path)


def _destination(store: Store, run_id: int, number: int, plan: DedupPlan, path: str, keeper: str,
                 image: ImageRecord) -> str | None:
    """Where the file goes, known before it is touched: the moved-to path (the file's
    absolute path mirrored below the folder, so no two collide), or the backup of a file
    about to be replaced by a link to a keeper with other bytes. A trash name is reserved
    only after the step is journaled (None here)."""
    if plan.action == "move-to":
        target = Path(plan.target or "") / Path(path).relative_to(Path(path).anchor)
        if target.exists() or target.is_symlink():
            raise FileChanged(path, f"{target} exists already: nothing moved over it")
        return str(target)
    if plan.action in ("hardlink", "symlink"):
        keeper_state = store.path_state(keeper)
        keeper_image = store.image(keeper_state[0]) if keeper_state else None
        if keeper_image is None or keeper_image.sha256 != image.sha256:
            return str(Layout(store.settings.db).dedup / f"run-{run_id}" / f"{number}-{Path(path).name}")
    return None


def _perform(book: DedupBook, step_id: int, action: str, path: str, keeper: str, destination: str | None) -> str | None:
    if action == "trash":
        slot = trash.reserve(path)
        book.set_destination(step_id, str(slot.file))
        trash.put(path, slot)
        return str(slot.file)
    if action == "move-to":
        Path(destination).parent.mkdir(parents=True, exist_ok=True)
        _move(path, destination)
    elif action in ("hardlink", "symlink"):
        if destination is not None:
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
            _durable_copy(path, destination)
        temporary = _temporary(path)
        Path(temporary).unlink(missing_ok=True)
        if action == "hardlink":
            os.link(keeper, temporary)
        else:
            os.symlink(os.path.realpath(keeper), temporary)
        os.replace(temporary, path)
    elif action == "delete":
        os.unlink(path)
    return destination


def _done_on_disk(step: JournalStep) -> bool:
    """Whether a step's file operation happened, from what the files show."""
    path, destination = step.path, step.destination
    if step.action in ("move-to", "trash"):
        return destination is not None and not os.path.lexists(path) and os.path.exists(destination)
    if step.action == "hardlink":
        return os.path.isfile(path) and os.path.exists(step.keeper) and os.path.samefile(path, step.keeper)
    if step.action == "symlink":
        return os.path.islink(path) and os.path.realpath(path) == os.path.realpath(step.keeper)
    return not os.path.lexists(path)  # delete


def _clean_up(action: str, path: str, destination: str | None) -> None:
    """Remove what a step that did not happen left: a half-made link, a backup, a partial
    copy, a reserved trash name."""
    Path(_temporary(path)).unlink(missing_ok=True)
    if destination is None or not os.path.lexists(path):
        return
    if action == "trash":
        slot = trash.TrashSlot.of(destination)
        if slot.file.exists():
            slot.file.unlink()
        slot.info.unlink(missing_ok=True)
    elif action in ("move-to", "hardlink", "symlink"):
        Path(destination).unlink(missing_ok=True)


def _settle_interrupted(store: Store, book: DedupBook) -> int:
    """Finish or abandon the pending steps of runs a crash cut short; close those runs."""
    settled = 0
    for run in book.runs(("running",)):
        for step in book.steps(run.id):
            if step.state != "pending":
                continue
            if _done_on_disk(step):
                _follow(store, step.action, step.path, step.destination, step.label)
                book.set_step(step.id, "done")
            else:
                _clean_up(step.action, step.path, step.destination)
                book.set_step(step.id, "abandoned", "interrupted before its file was touched")
            settled += 1
        book.finish_run(run.id, "done")
    return settled


def _undo(store: Store, step: JournalStep) -> None:
    path = Path(step.path)
    if step.action == "delete":
        raise FileChanged(step.path, "deleted, which cannot be undone")
    if step.action in ("move-to", "trash"):
        if os.path.lexists(path):
            raise FileExistsError(f"{path}: a file is there again; it stays at {step.destination}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if step.action == "trash":
            trash.restore(trash.TrashSlot.of(step.destination), path)
        else:
            _move(step.destination, str(path))
        _reindex(store, step)
        if step.action == "move-to":
            _forget(store, [step.destination])
        return
    # a link: back to the bytes the file had
    temporary = _temporary(step.path)
    if step.destination is not None:
        shutil.copy2(step.destination, temporary)
    else:
        shutil.copyfile(os.path.realpath(path), temporary)
        os.utime(temporary, ns=(step.mtime_ns, step.mtime_ns))
    if _sha256(temporary) != step.sha256:
        Path(temporary).unlink()
        raise FileChanged(step.path, "the bytes to restore it from changed (its keeper or backup was edited)")
    os.replace(temporary, path)
    _reindex(store, step)
    if step.destination is not None:
        Path(step.destination).unlink(missing_ok=True)


# --- the catalog follows the files ------------------------------------------------------------


def _follow(store: Store, action: str, path: str, destination: str | None, label: str | None) -> None:
    """Record what a done step did to the files (idempotent: a re-run after a crash may
    repeat it)."""
    if action == "move-to":
        index_files(store, [look_at(destination)], label=label)
        _forget(store, [path])
    elif action == "hardlink":
        index_files(store, [look_at(path)], label=label)
    else:  # trash, delete, symlink (a link resolves to its keeper, which is recorded)
        _forget(store, [path])


def _reindex(store: Store, step: JournalStep) -> None:
    """A restored file back in the catalog: its path recorded again (its image stored again
    from the file when it had left the collection with its last path)."""
    index_files(store, [look_at(step.path)], label=step.label)


def _forget(store: Store, paths: list[str]) -> None:
    known = [p for p in paths if store.path_state(p) is not None]
    if not known:
        return
    with store.writing():
        before = store.images([store.path_state(p)[0] for p in known])
        forget_removed(store, before, store.remove_paths(known))


# --- files ------------------------------------------------------------------------------------


@contextmanager
def _acting(store: Store) -> Iterator[None]:
    """One process acts at a time (an exclusive lock; a killed holder releases it)."""
    folder = Layout(store.settings.db).dedup
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a") as lock:
        try:
            import fcntl
        except ImportError:  # not POSIX: one process at a time is up to the caller
            yield
            return
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def _temporary(path: str) -> str:
    return str(Path(path).parent / f".{Path(path).name}{TEMPORARY_SUFFIX}")


def _move(source: str, target: str) -> None:
    try:
        os.rename(source, target)
    except OSError:
        _durable_copy(source, target)
        os.unlink(source)


def _durable_copy(source: str, target: str) -> None:
    """Copy with the modification time, on disk before going on."""
    shutil.copy2(source, target)
    with open(target, "rb") as copied:
        os.fsync(copied.fileno())


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

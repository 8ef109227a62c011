"""The desktop trash, as the freedesktop.org Trash specification (1.0) lays it out, so a
trashed duplicate shows up in the file manager's trash and can be restored from there, by
`lookalike undo`, or by hand.

    $XDG_DATA_HOME/Trash/files/NAME             the file itself
    $XDG_DATA_HOME/Trash/info/NAME.trashinfo    where it came from, and when

The name is reserved by creating its .trashinfo exclusively (O_EXCL) before the file is
moved, as the specification asks, so two programs trashing "a.jpg" at once get "a.jpg" and
"a.2.jpg". A file on another filesystem than the home trash goes to its own top folder's
`.Trash-UID` (the specification's per-volume trash) when that can be made, else it is
copied to the home trash and then removed (the specification allows either).
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote

INFO_SUFFIX = ".trashinfo"


@dataclass(frozen=True)
class TrashSlot:
    """Where one trashed file lives: the file and its info file."""

    file: Path
    info: Path

    @classmethod
    def of(cls, file: str | Path) -> "TrashSlot":
        """The slot of a trashed file (`files/NAME`): its info is `info/NAME.trashinfo`."""
        file = Path(file)
        return cls(file, file.parent.parent / "info" / (file.name + INFO_SUFFIX))


def home_trash() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "Trash"


def trash_for(path: str | Path) -> Path:
    """The trash a file goes to: the home trash when on its filesystem, else the top
    folder's `.Trash-UID` when it exists or can be made, else the home trash (copied)."""
    home = home_trash()
    home.mkdir(parents=True, exist_ok=True)
    device = os.stat(Path(path).parent).st_dev
    if os.stat(home).st_dev == device:
        return home
    top = _top_folder(Path(path).parent, device)
    volume = top / f".Trash-{os.getuid()}"
    try:
        volume.mkdir(mode=0o700, exist_ok=True)
        (volume / "files").mkdir(exist_ok=True)
        (volume / "info").mkdir(exist_ok=True)
        return volume
    except OSError:
        return home


def reserve(path: str | Path, trash: Path | None = None) -> TrashSlot:
    """A free name in the trash for `path`, reserved by writing its .trashinfo (the file
    itself is not moved yet: `put` does that)."""
    path = Path(path)
    trash = trash or trash_for(path)
    (trash / "files").mkdir(parents=True, exist_ok=True)
    (trash / "info").mkdir(parents=True, exist_ok=True)
    text = (f"[Trash Info]\nPath={quote(str(path.absolute()))}\n"
            f"DeletionDate={datetime.now().strftime('%Y-%m-%dT%H:%M:%S')}\n").encode()
    stem, suffix = path.stem, path.suffix
    for number in range(1, 10_000):
        name = path.name if number == 1 else f"{stem}.{number}{suffix}"
        slot = TrashSlot(trash / "files" / name, trash / "info" / (name + INFO_SUFFIX))
        if slot.file.exists():
            continue
        try:
            descriptor = os.open(slot.info, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "wb") as info:
            info.write(text)
            info.flush()
            os.fsync(info.fileno())
        return slot
    raise OSError(f"{trash}: no free name for {path.name} in the trash")


def put(path: str | Path, slot: TrashSlot) -> None:
    """Move the file into its reserved slot (a rename, or a copy then a removal across
    filesystems)."""
    _move(Path(path), slot.file)


def restore(slot: TrashSlot, path: str | Path) -> None:
    """Put a trashed file back at `path` and drop its info file."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise FileExistsError(f"{path}: a file is there again; the trashed copy stays at {slot.file}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _move(slot.file, path)
    slot.info.unlink(missing_ok=True)


def original_path(slot: TrashSlot) -> str | None:
    """The `Path=` an info file records (decoded), or None when it cannot be read."""
    try:
        for line in slot.info.read_text().splitlines():
            if line.startswith("Path="):
                return unquote(line[len("Path="):])
    except OSError:
        return None
    return None


def _move(source: Path, target: Path) -> None:
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # another filesystem
            raise
        shutil.copy2(source, target)
        with open(target, "rb") as copied:
            os.fsync(copied.fileno())
        source.unlink()


def _top_folder(folder: Path, device: int) -> Path:
    """The highest folder above `folder` on the same filesystem (its mount point)."""
    folder = folder.resolve()
    while folder.parent != folder and os.stat(folder.parent).st_dev == device:
        folder = folder.parent
    return folder

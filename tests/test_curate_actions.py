"""Acting on duplicates and undoing it (`lookalike.curate.actions`), on real files in a temp
folder and a real store: each action and its undo leave the exact bytes and paths
expected; files changed since indexing are refused; marked pairs never come back; a real
child process killed with SIGKILL mid-action leaves a journal that undo or a re-run completes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lookalike import Collection, Settings
from lookalike.curate.trash import TrashSlot, original_path
from lookalike.errors import NothingToUndo
from tests.conftest import HASH_FEATURES

# The demo gallery's groups: (keeper, the copy acted on), chelsea's two files byte-identical.
GROUPS = {"astronaut.png": "astronaut-caption.jpg", "coffee.png": "coffee-grayscale.jpg",
          "rocket.png": "rocket-jpeg15.jpg", "chelsea.png": "chelsea-copy.png"}


@pytest.fixture()
def photos(tmp_path: Path, gallery: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the demo gallery, indexed; the desktop trash inside tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "photos"
    shutil.copytree(gallery, folder)
    os.utime(folder / "chelsea.png", (1_500_000_000, 1_500_000_000))  # the older of the byte copies
    with Collection(settings=settings(tmp_path)) as collection:
        collection.index([folder])
    return folder


def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "store.db", features=HASH_FEATURES)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int, bool]]:
    """Every file below `folder`: bytes, mtime, link count, whether it is a symlink."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.lstat().st_mtime_ns, p.lstat().st_nlink, p.is_symlink())
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


def recorded_paths(collection: Collection) -> set[str]:
    return {path for image in collection.page(0, 10_000) for path in image.paths}


def test_each_action_and_its_undo(tmp_path: Path, photos: Path) -> None:
    target = tmp_path / "set-aside"
    before = snapshot(photos)
    trash = tmp_path / "xdg" / "Trash"
    with Collection(settings=settings(tmp_path)) as collection:
        recorded = recorded_paths(collection)
        for action in ("move-to", "trash", "hardlink", "symlink"):
            plan = collection.plan_dedup(action=action, target=target)
            assert {Path(g.keeper).name: [Path(p).name for p in g.act] for g in plan.groups} == \
                {keeper: [copy] for keeper, copy in GROUPS.items()}, action
            report = collection.apply(plan)
            assert sorted(Path(p).name for p in report.done) == sorted(GROUPS.values()) and not report.refused
            for keeper, copy in GROUPS.items():
                path, kept = photos / copy, photos / keeper
                assert kept.read_bytes() == before[keeper][0]  # the keeper is never touched
                if action == "move-to":
                    moved = target / path.relative_to(path.anchor)
                    assert not path.exists() and moved.read_bytes() == before[copy][0]
                elif action == "trash":
                    slot = TrashSlot.of(trash / "files" / copy)
                    assert not path.exists() and slot.file.read_bytes() == before[copy][0]
                    assert original_path(slot) == str(path)
                elif action == "hardlink":
                    assert path.samefile(kept) and not path.is_symlink()
                else:
                    assert path.is_symlink() and path.resolve() == kept
            # the store follows the files: every recorded path exists, and no group is left
            assert all(Path(p).is_file() for p in recorded_paths(collection))
            assert collection.duplicates() == []
            undone = collection.undo()
            assert sorted(Path(p).name for p in undone.restored) == sorted(GROUPS.values()) and not undone.failed
            assert snapshot(photos) == before, action  # exact bytes, times, no link left
            assert recorded_paths(collection) == recorded
            assert not list((trash / "files").glob("*")) if trash.exists() else True
            assert not list((trash / "info").glob("*")) if trash.exists() else True
            assert not target.exists() or not [p for p in target.rglob("*") if p.is_file()]
        with pytest.raises(NothingToUndo):
            collection.undo()


def test_delete_says_it_cannot_be_undone_and_forgets_the_files(tmp_path: Path, photos: Path) -> None:
    with Collection(settings=settings(tmp_path)) as collection:
        plan = collection.plan_dedup(action="delete")
        assert plan.summary()["undoable"] is False and "cannot be undone" in plan.summary()["text"]
        collection.apply(plan)
        assert not any((photos / copy).exists() for copy in GROUPS.values())
        assert all((photos / keeper).exists() for keeper in GROUPS)
        assert all(Path(p).is_file() for p in recorded_paths(collection))
        with pytest.raises(NothingToUndo):
            collection.undo()


def test_files_changed_since_indexing_are_refused(tmp_path: Path, photos: Path) -> None:
    edited, touched, keeper = photos / "astronaut-caption.jpg", photos / "rocket-jpeg15.jpg", photos / "coffee.png"
    with Collection(settings=settings(tmp_path)) as collection:
        plan = collection.plan_dedup(action="trash")
        edited.write_bytes(edited.read_bytes() + b"\0")  # new content
        os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))  # only the time
        keeper.write_bytes(keeper.read_bytes())  # the keeper rewritten: its copies are not touched
        (photos / "chelsea.png").unlink()  # the keeper gone: its byte copy is now the last one
        report = collection.apply(plan)
    refused = {Path(path).name: why for path, why in report.refused}
    assert refused["astronaut-caption.jpg"] == "its size or modification time changed"
    assert refused["rocket-jpeg15.jpg"] == "its size or modification time changed"
    assert "its keeper" in refused["coffee-grayscale.jpg"] and "coffee.png" in refused["coffee-grayscale.jpg"]
    assert refused["chelsea-copy.png"].endswith("chelsea.png: gone")
    assert report.done == []
    assert all((photos / name).exists() for name in GROUPS.values())


def test_marks_are_remembered_exported_and_imported(tmp_path: Path, photos: Path) -> None:
    with Collection(settings=settings(tmp_path)) as collection:
        collection.mark_distinct([photos / "astronaut.png", photos / "astronaut-caption.jpg"], note="a poster")
        collection.mark_keep([photos / "coffee.png", photos / "coffee-grayscale.jpg"])
        left = {Path(p).name for g in collection.duplicates() for i in g.images for p in i.paths}
        assert left == {"rocket.png", "rocket-jpeg15.jpg", "chelsea.png", "chelsea-copy.png"}
        collection.index([photos])  # re-indexing brings nothing back
        assert len(collection.duplicates()) == 2
        assert {Path(p).name for g in collection.plan_dedup(action="trash").groups for p in g.act} == \
            {"rocket-jpeg15.jpg", "chelsea-copy.png"}
        exported = collection.export_marks()
    assert [m["kind"] for m in exported["marks"]] == ["distinct", "keep"] and exported["marks"][0]["note"] == "a poster"
    with Collection(settings=Settings(db=tmp_path / "other.db", features=HASH_FEATURES)) as fresh:
        fresh.index([photos])
        assert len(fresh.duplicates()) == 4
        assert fresh.import_marks(json.loads(json.dumps(exported))) == 2
        assert len(fresh.duplicates()) == 2
        assert fresh.import_marks(exported) == 2 and len(fresh.marks()) == 2  # once each


CHILD = """
import os, sys, time
from lookalike import Collection, Settings
from tests.conftest import HASH_FEATURES
seen = []
def hook(event, path):
    seen.append(event)
    if seen.count("acted") == 2 and event == "acted":
        print("acted", path, flush=True)
        time.sleep(120)
with Collection(settings=Settings(db=sys.argv[1], features=HASH_FEATURES)) as collection:
    collection.apply(collection.plan_dedup(action=sys.argv[2], target=sys.argv[3]), on_event=hook)
"""


def killed_mid_action(tmp_path: Path, action: str) -> str:
    """Run an apply in a real child process and SIGKILL it once its second file was acted
    on (before the catalog followed and the journal said done); the path it was on."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "store.db"), action, str(tmp_path / "aside")],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    line = child.stdout.readline()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert line.startswith("acted "), line
    return line.split(" ", 1)[1].strip()


@pytest.mark.parametrize("action", ["move-to", "hardlink"])
def test_a_killed_run_is_undone_completely(tmp_path: Path, photos: Path, action: str) -> None:
    before = snapshot(photos)
    with Collection(settings=settings(tmp_path)) as collection:
        recorded = recorded_paths(collection)
    cut_at = killed_mid_action(tmp_path, action)
    assert snapshot(photos) != before
    with Collection(settings=settings(tmp_path)) as collection:
        steps = collection.store.dedup_book().steps(1)
        assert [s.state for s in steps] == ["done", "pending"] and steps[1].path == cut_at
        report = collection.undo()
        assert len(report.restored) == 2 and not report.failed
        assert snapshot(photos) == before
        assert recorded_paths(collection) == recorded
        assert not [p for p in (tmp_path / "aside").rglob("*") if p.is_file()] if (tmp_path / "aside").exists() else True


def test_a_killed_run_is_completed_by_the_next_run(tmp_path: Path, photos: Path) -> None:
    cut_at = killed_mid_action(tmp_path, "move-to")
    with Collection(settings=settings(tmp_path)) as collection:
        report = collection.apply(collection.plan_dedup(action="move-to", target=tmp_path / "aside"))
        assert report.settled == 1 and cut_at not in report.done and len(report.done) == 2
        assert [s.state for s in collection.store.dedup_book().steps(1)] == ["done", "done"]
        assert not any((photos / copy).exists() for copy in GROUPS.values())
        assert all(Path(p).is_file() for p in recorded_paths(collection))
        assert collection.duplicates() == []


def test_the_command_line_workflow(tmp_path: Path, photos: Path) -> None:
    """find, review (a dry run, CSV and JSON), apply, undo, marks: through `lookalike`."""
    from click.testing import CliRunner

    from lookalike.cli import main

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, ["--db", str(tmp_path / "store.db"), *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    review = run("duplicates", "--action", "delete")
    assert "keep: original: the original" in review and "DELETE CANNOT BE UNDONE" in review
    assert all((photos / copy).exists() for copy in GROUPS.values())
    rows = run("duplicates", "--keep", "pixels,quality", "--csv").splitlines()
    assert rows[0].startswith("group,role,path") and sum(",keep," in row for row in rows) == 4
    groups = json.loads(run("duplicates", "--json"))
    assert {Path(g["keeper"]).name for g in groups} == set(GROUPS) and all(g["reason"] for g in groups)
    assert "needs an --action" in run("duplicates", "--apply", code=2)
    assert "unknown keeper rule 'biggest'" in run("duplicates", "--keep", "biggest", code=1)
    applied = json.loads(run("duplicates", "--action", "move-to", "--to", str(tmp_path / "aside"), "--apply", "--json"))
    assert len(applied["done"]) == 4 and not any((photos / copy).exists() for copy in GROUPS.values())
    assert "4 file(s) restored" in run("undo")
    assert all((photos / copy).exists() for copy in GROUPS.values())
    run("mark", "distinct", str(photos / "rocket.png"), str(photos / "rocket-jpeg15.jpg"), "--note", "not the same")
    assert "distinct" in run("marks") and len(json.loads(run("duplicates", "--json"))) == 3
    exported = json.loads(run("marks", "--json"))
    assert exported["marks"][0]["note"] == "not the same"

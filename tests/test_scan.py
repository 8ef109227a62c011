"""Scanning folders: every file below the roots is indexed or reported with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from lookalike import Collection
from lookalike.cli import main
from lookalike.scan import FileRecord, Unreadable, scan
from tests.conftest import HASH_FEATURES


@pytest.fixture()
def awkward(tmp_path: Path, gallery: Path) -> Path:
    """A folder with one good photo and every kind of file that cannot be looked at."""
    folder = tmp_path / "awkward"
    folder.mkdir()
    (folder / "good.png").write_bytes((gallery / "moon.png").read_bytes())
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
    (folder / "linked-folder").symlink_to(folder)  # a link back up: followed, it never ends
    _write_deep(folder, "deep.png", (gallery / "coffee.png").read_bytes())
    return folder


def _write_deep(top: Path, name: str, data: bytes) -> None:
    """A file whose path is over 4,096 characters, made step by step from inside."""
    here = os.getcwd()
    try:
        os.chdir(top)
        for _ in range(18):
            os.mkdir("d" * 240)
            os.chdir("d" * 240)
        Path(name).write_bytes(data)
    finally:
        os.chdir(here)


def test_scan_reports_what_it_cannot_look_at(awkward: Path) -> None:
    found = list(scan([awkward]))
    files = [f for f in found if isinstance(f, FileRecord)]
    reasons = {Path(u.path).name[:20]: u.reason for u in found if isinstance(u, Unreadable)}
    assert [Path(f.path).name for f in files] == ["good.png"]
    assert reasons["loop.jpg"] == "symlink loop"
    assert reasons["dangling.jpg"] == "dangling symlink"
    assert reasons["linked-folder"] == "symlinked folder, not followed"
    assert any(reason.startswith(("path too long", "cannot read")) for name, reason in reasons.items()
               if name.startswith("d")), reasons


def test_index_finishes_and_names_every_skipped_file(awkward: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "cli.db"), "index", str(awkward), "--json"])
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["indexed"] == 1
    skipped = {Path(item["path"]).name[:20]: item["reason"] for item in report["skipped"]}
    assert {"loop.jpg", "dangling.jpg", "linked-folder"} <= set(skipped)
    assert "Traceback" not in result.output


def test_a_missing_root_and_a_home_root_are_not_silent(tmp_path: Path, gallery: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    (home / "Pictures").mkdir(parents=True)
    (home / "Pictures" / "moon.png").write_bytes((gallery / "moon.png").read_bytes())
    monkeypatch.setenv("HOME", str(home))
    from lookalike import Settings

    with Collection(settings=Settings(db=tmp_path / "s.db", features=HASH_FEATURES)) as collection:
        report = collection.index(["~/Pictures", tmp_path / "nowhere"])
    assert report.indexed == 1
    assert report.skipped == [(str(tmp_path / "nowhere"), "no such file or folder")]


def test_a_file_name_with_a_newline_cannot_forge_a_report_line(tmp_path: Path, gallery: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / "broken\nskipping passwd: forged.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    (folder / "ok\n.png").write_bytes((gallery / "moon.png").read_bytes())
    db = str(tmp_path / "names.db")
    result = CliRunner().invoke(main, ["--db", db, "index", str(folder)])
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert len([line for line in lines if line.startswith("skipping")]) == 1, lines
    assert "broken\\nskipping passwd" in result.stderr
    table = CliRunner().invoke(main, ["--db", db, "search", str(gallery / "moon.png"), "-k", "1"]).output
    assert len(table.splitlines()) == 3 and "ok\\n.png" in table

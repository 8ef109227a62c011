"""520 malformed, odd-shaped and hostile files (seeded: the same every run, tests/hostile_files.py)
thrown at `index`, search, compare and the upload route: no crash, no traceback, peak memory
under 1 GB, every valid image indexed, every bad one named with its reason.

Each stage runs in its own process (the CLI, a small script, a real `lookalike serve`), so its
peak memory is its own.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from lookalike import Collection, Settings
from tests.hostile_files import Case, hostile_files
from tests.server.conftest import start_server, stop_server

PEAK_MB = 1024


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    found = hostile_files()
    assert len(found) >= 500
    assert {case.expect for case in found} == {"valid", "bad", "either"}
    return found


@pytest.fixture(scope="module")
def hostile_folder(cases: list[Case], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for case in cases:
        (folder / case.name).write_bytes(case.data)
    return folder


@pytest.fixture(scope="module")
def indexed(hostile_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, int]:
    """`lookalike index` over the folder, default features: (store, JSON report, peak RSS in MB)."""
    db = tmp_path_factory.mktemp("hostile-store") / "store.db"
    result, peak = run_measured(["-m", "lookalike.cli", "--db", str(db), "index", str(hostile_folder), "--json"],
                                db.parent)
    assert result["code"] in (0, 3), result["stderr"][-3000:]
    assert "Traceback" not in result["stderr"], result["stderr"][-3000:]
    return db, json.loads(result["stdout"]), peak


def run_measured(arguments: list[str], folder: Path) -> tuple[dict, float]:
    """Run `python -m MODULE ...` or `python -c CODE ...` (`arguments`) to the end; its
    output and its peak resident memory (MB). The child reads its own high-water mark: the
    rusage of a child started by vfork + exec counts the parent's peak too."""
    out, err, peak = folder / "stdout.txt", folder / "stderr.txt", folder / "peak-kb.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        code = subprocess.run([sys.executable, "-c", MEASURED, str(peak), *arguments], stdout=stdout, stderr=stderr,
                              stdin=subprocess.DEVNULL, timeout=900).returncode
    result = {"code": code, "stdout": out.read_text(), "stderr": err.read_text(errors="replace")}
    return result, int(peak.read_text()) / 1024


MEASURED = textwrap.dedent("""
    import atexit, runpy, sys

    def record_peak(path=sys.argv[1]):
        with open("/proc/self/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
        with open(path, "w") as out:
            out.write(peak)

    atexit.register(record_peak)
    how, target, *rest = sys.argv[2:]
    sys.argv = [target, *rest]
    if how == "-m":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        exec(compile(target, "<measured>", "exec"), {"__name__": "__main__"})
""")


def test_index_stores_every_valid_file_and_names_every_bad_one(indexed, cases: list[Case], hostile_folder: Path) -> None:
    db, report, peak = indexed
    skipped = {Path(item["path"]).name: item["reason"] for item in report["skipped"]}
    with Collection(settings=Settings(db=db)) as collection:
        stored = {case.name for case in cases
                  if collection.store.path_state(str((hostile_folder / case.name).resolve())) is not None}
    for case in cases:
        where = (case.name in stored, case.name in skipped)
        assert where != (True, True), case.name
        assert where != (False, False), f"{case.name}: neither indexed nor reported"
        if case.expect == "valid":
            assert case.name in stored, (case.name, skipped.get(case.name))
        if case.expect == "bad":
            assert case.name in skipped and skipped[case.name], case.name
    assert peak < PEAK_MB, f"index peaked at {peak:.0f} MB"


SEARCH_AND_COMPARE = textwrap.dedent("""
    import json, sys, traceback
    from lookalike import Collection, LookalikeError, Settings

    folder, db, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    outcomes = {"search": {}, "compare": {}}

    def attempt(call):
        try:
            return {"ok": call()}
        except LookalikeError as error:
            return {"error": type(error).__name__, "message": str(error)}
        except BaseException:
            return {"crash": traceback.format_exc()}

    with Collection(settings=Settings(db=db)) as collection:
        for name in names:
            outcomes["search"][name] = attempt(lambda: len(collection.search(f"{folder}/{name}", k=3)))
        for first, second in zip(names[::2], names[1::2]):  # every file in one pair
            outcome = attempt(lambda: collection.compare(f"{folder}/{first}", f"{folder}/{second}").verdict)
            outcomes["compare"][first + "|" + second] = outcome
    print(json.dumps(outcomes))
""")


def test_search_and_compare_answer_or_refuse_every_file(indexed, cases: list[Case], hostile_folder: Path) -> None:
    db, _, _ = indexed
    names = [case.name for case in cases]
    result, peak = run_measured(["-c", SEARCH_AND_COMPARE, str(hostile_folder), str(db), json.dumps(names)],
                                db.parent)
    assert result["code"] == 0, result["stderr"][-3000:]
    outcomes = json.loads(result["stdout"])
    expect = {case.name: case.expect for case in cases}
    for name, outcome in outcomes["search"].items():
        assert "crash" not in outcome, (name, outcome["crash"])
        if expect[name] == "valid":
            assert outcome.get("ok", 0) >= 1, (name, outcome)
        if expect[name] == "bad":
            assert "error" in outcome and name in outcome["message"], (name, outcome)
    assert len(outcomes["compare"]) == len(names) // 2
    for pair, outcome in outcomes["compare"].items():
        first, second = pair.split("|")
        assert "crash" not in outcome, (pair, outcome["crash"])
        if expect[first] == expect[second] == "valid":
            assert outcome.get("ok") in ("same", "different", "same-object"), (pair, outcome)
        if "bad" in (expect[first], expect[second]):
            assert "error" in outcome and (first in outcome["message"] or second in outcome["message"]), pair
    assert peak < PEAK_MB, f"search and compare peaked at {peak:.0f} MB"


def test_the_upload_route_answers_every_file_with_json(cases: list[Case], tmp_path: Path) -> None:
    server = start_server(tmp_path / "served.db")
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for case in cases:
                answer = client.post("/v1/images", files={"files": (case.name, case.data)})
                assert answer.status_code != 500 and answer.status_code < 500, (case.name, answer.text[:500])
                body = answer.json()
                assert "Traceback" not in answer.text, case.name
                stored = [image for image in body.get("images", []) if image.get("filename") == case.name]
                named = [error for error in body.get("errors", []) if error.get("filename") == case.name]
                assert bool(stored) != bool(named), (case.name, answer.status_code, body)
                if case.expect == "valid":
                    assert stored and answer.status_code in (200, 201), (case.name, body)
                    assert client.get(f"/v1/images/{stored[0]['id']}").status_code == 200
                if case.expect == "bad":
                    assert named and named[0]["error"] and 400 <= answer.status_code < 500, (case.name, body)
                    # refused bytes are kept nowhere
                    assert not list((tmp_path / "served.db.files").rglob(hashlib.sha256(case.data).hexdigest() + "*"))
            assert client.get("/healthz").status_code == 200
        peak = server_peak_mb(server.process.pid)
    finally:
        stop_server(server)
    assert peak < PEAK_MB, f"the server peaked at {peak:.0f} MB"


def server_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")

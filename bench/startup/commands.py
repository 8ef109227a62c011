"""Wall-clock time of commands run as fresh processes, the way a user types them.

Every process gets the same environment: PYTHONPYCACHEPREFIX set to a folder in the data
dir (and PYTHONDONTWRITEBYTECODE dropped, or nothing would be cached there), so that the
bytecode of Python, numpy, lookalike and the rest is compiled once, by an untimed warm-up
run, and read from that folder by every timed run: what an installed package does, where
pip compiled its bytecode at install time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np


def venv_executable(name: str) -> Path:
    """`name` beside the running interpreter: the virtualenv's own python or lookalike.
    sys.executable itself is not resolved (a venv's python is a link to the base one)."""
    return Path(sys.executable).parent / name


def lookalike_command() -> list[str]:
    """The installed `lookalike` script; `python -m lookalike` if there is none."""
    script = venv_executable("lookalike")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lookalike"]


def child_environment(pycache: Path) -> dict[str, str]:
    """This process's environment with bytecode cached in `pycache`."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def summary(seconds: Sequence[float]) -> dict[str, Any]:
    """Every run's seconds with their median and 90th percentile."""
    return {
        "runs": len(seconds),
        "seconds": [round(s, 4) for s in seconds],
        "median_s": round(float(np.median(seconds)), 4),
        "p90_s": round(float(np.percentile(seconds, 90)), 4),
    }


def time_command(argv: list[str], env: dict[str, str], runs: int, cwd: Path,
                 before: Callable[[], None] | None = None, timeout: float = 300) -> dict[str, Any]:
    """`runs` timed fresh processes of `argv` after one untimed warm-up (it fills the
    bytecode cache and the page cache). `before` runs ahead of each of them, untimed (to
    give `remove` a fresh copy of its store). {"error": ...} when a run fails."""
    seconds = []
    output = ""
    for number in range(runs + 1):
        if before is not None:
            before()
        started = time.perf_counter()
        try:
            done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"argv": argv, "error": f"timed out after {timeout:.0f} s"}
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            return {"argv": argv, "error": f"exit code {done.returncode}: {last[:300]}"}
        if number:  # the first run is the warm-up
            seconds.append(elapsed)
        output = done.stdout
    lines = output.strip().splitlines()
    return {"argv": argv, **summary(seconds), "first_output_line": lines[0][:200] if lines else ""}

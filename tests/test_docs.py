"""The command-line reference in docs/cli.md is generated from --help and must be current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_up_to_date() -> None:
    check = subprocess.run([sys.executable, str(ROOT / "tools" / "cli_docs.py"), "--check"], cwd=ROOT)
    assert check.returncode == 0, "docs/cli.md is stale: run `python tools/cli_docs.py`"

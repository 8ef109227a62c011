"""Real test pictures from Debian packages: a file, or the test skipped with the line that
installs it (`make test-data` installs them all when run as root)."""

from __future__ import annotations

from pathlib import Path

import pytest


def debian_file(path: Path, package: str) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is missing: apt install {package}")
    return path

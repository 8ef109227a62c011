"""The machine line every benchmark page states: versions that shape the numbers, and the CPU."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version


def machine_line(*packages: str) -> str:
    """lookalike, Python, numpy and onnxruntime versions (and any other `packages`), cores, CPU."""
    names = ("numpy", "onnxruntime", *packages)
    return (
        f"lookalike {version('lookalike')}, Python {platform.python_version()}, "
        + ", ".join(f"{name} {version(name)}" for name in names)
        + f"; {os.cpu_count()} CPU cores, {platform.machine()}, no GPU"
    )

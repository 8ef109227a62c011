"""The command-line options every benchmark takes, declared once: `--data` (where the
prepared data sets and raw results live), `--docs` (where the Markdown goes) and `--quick`
(small sizes, for a smoke run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .data import DEFAULT_DATA_DIR


def benchmark_parser(prog: str, description: str, *, quick: str | None = "small subsets, for a smoke run",
                     docs: bool = True) -> argparse.ArgumentParser:
    """A parser with the shared options; `quick=None` / `docs=False` leave those out."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if quick is not None:
        parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    if docs:
        parser.add_argument("--docs", type=Path, default=Path("docs"))
    return parser

"""Progress lines of the speed and scale runs, on stderr (stdout carries the report)."""

from __future__ import annotations

import sys
import time


def log(message: str) -> None:
    print(f"[speed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

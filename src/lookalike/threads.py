"""Threads: how many threads the numeric libraries use while a query runs.

numpy's OpenBLAS splits even a small product (a query's eight orientations against ~200
candidates) over every core, and its worker threads then busy-wait for a while, taking a
core from the texture histograms and the CNN pass that come next: a query at 100k ran
~10% slower for it. A query's products are small, so search holds BLAS to one thread;
the big products of `evaluate` and training keep every core.

BLAS's thread count belongs to the process, so its guard is the one piece of process-wide
state here: a lock, the number of searches holding it, and the limit in force while they
do. The worker pools a query uses belong to its collection (`lookalike.runtime`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

_lock = threading.Lock()
_holders = 0
_limiter: Any = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread inside the block. Safe across threads (a server's concurrent
    searches): the original thread count comes back when the last holder leaves."""
    global _holders, _limiter
    with _lock:
        if _holders == 0:
            _limiter = _controller().limit(limits=1, user_api="blas")
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _limiter.restore_original_limits()
                _limiter = None


def _controller() -> Any:
    """threadpoolctl's view of the thread pools loaded now (~0.3 ms to inspect; only the
    first of overlapping searches asks)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()

"""Threads: the worker pools a query shares, and how many threads the numeric libraries
use while it runs.

numpy's OpenBLAS splits even a small product (a query's eight orientations against ~200
candidates) over every core, and its worker threads then busy-wait for a while, taking a
core from the texture histograms and the CNN pass that come next: a query at 100k ran
~10% slower for it. A query's products are small, so search holds BLAS to one thread;
the big products of `evaluate` and training keep every core.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
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


_POOLS: dict[str, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool called `name` (made on first use, kept for the process): work
    that runs beside a query's other steps, without a thread start per query."""
    with _POOLS_LOCK:
        if name not in _POOLS:
            _POOLS[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"lookalike-{name}")
        return _POOLS[name]


_CONTROLLER: Any = None


def _controller() -> Any:
    """threadpoolctl's view of the loaded thread pools, inspected once (~ms) and reused."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER

"""Run one measurement in a fresh interpreter, so that its peak RSS is its own.

    python -m bench.child_process MODULE:FUNCTION JSON_ARGUMENTS [--tree]

`run_child(function, ...)` is the parent side: it starts this module on the function's
name, passes the arguments as JSON and reads back the function's result (a dict), with the
child's peak RSS and the machine's load when it started.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from importlib import import_module
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
CHILD_MARKER = "@@speed-result@@"
MB = 1024 * 1024

Task = Callable[..., dict[str, Any]]


def current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


def own_peak_rss_mb() -> float:
    """This process's peak RSS since it started. Not getrusage's ru_maxrss: Linux carries
    that over from the parent across fork and exec, so every child would report at least
    the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the best there is


class TreeMemory:
    """Peak RSS of this process plus its children (imagededup forks a worker pool),
    sampled every 20 ms; only used where children exist, to keep timings undisturbed."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.02):
            total = self._process.memory_info().rss
            for child in self._process.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / MB


def child_main(target: str, arguments: str, tree: bool = False) -> None:
    """Run one task and print its result (plus the process's peak RSS) as JSON. `tree`:
    count the task's own child processes (imagededup forks a worker pool) into the peak."""
    memory = TreeMemory() if tree else None
    load = os.getloadavg()[0]
    result = _task(target)(**json.loads(arguments))
    result["load_average"] = round(load, 2)  # 1-minute, when the task started
    result["peak_rss_mb"] = round(max(own_peak_rss_mb(), memory.stop() if memory else 0.0), 1)
    print(CHILD_MARKER + json.dumps(result), flush=True)


def _task(target: str) -> Task:
    """The function a "module:function" target names."""
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def target_of(task: Task) -> str:
    """The "module:function" name a child process finds `task` by."""
    if task.__module__ == "__main__" or "." in task.__qualname__:
        raise ValueError(f"{task.__qualname__}: a child process runs only module-level functions of importable modules")
    return f"{task.__module__}:{task.__name__}"


def run_child(
    task: Task, timeout: float, memory_limit_gb: float | None = None, tree: bool = False, **arguments: Any
) -> dict[str, Any]:
    """Run `task` with `arguments` in a fresh interpreter; {"error": ...} if it failed,
    timed out or ran out of the address space it was given."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    limit = None if memory_limit_gb is None else int(memory_limit_gb * 1024**3)
    command = [sys.executable, "-m", "bench.child_process", target_of(task), json.dumps(arguments, default=str)]
    command += ["--tree"] if tree else []
    started = time.perf_counter()
    # No preexec_fn: forking a parent that runs gRPC (pymilvus) threads breaks the child.
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        if limit and hasattr(resource, "prlimit"):
            resource.prlimit(child.pid, resource.RLIMIT_AS, (limit, limit))
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in stdout.splitlines() if line.startswith(CHILD_MARKER)]
    if child.returncode != 0 or not lines:
        errors = [line for line in stderr.strip().splitlines() if "Epoll1Poller" not in line]
        last = (errors or [f"exit code {child.returncode}"])[-1].strip()
        if "bad_alloc" in last:  # a C++ library (FAISS) ran out of memory and aborted the process
            last = "out of memory in FAISS (std::bad_alloc)"
        return {"error": last[:300], "wall_seconds": round(time.perf_counter() - started, 1)}
    return json.loads(lines[-1][len(CHILD_MARKER):])


if __name__ == "__main__":
    child_main(sys.argv[1], sys.argv[2], tree="--tree" in sys.argv[3:])

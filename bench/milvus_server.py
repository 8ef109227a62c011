"""A real Milvus standalone server on this machine, for the tests and the cluster benchmark.

The PyPI package `milvus` (2.3.x, "embedded Milvus") carries the Milvus server binary (C++
core, knowhere, rocksdb); this starts it on free ports with its data in a folder of ours,
so a test talks to it through a `milvus://` URL exactly as to a cluster.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


# A strongly consistent read waits for the next time tick (200 ms by default) and a load for
# the query coordinator's next check (1 s): ticks of a few tens of ms make a test suite of
# small writes and reads ten times faster without changing what the server does. A restarted
# server serves its collections again once the dead process's etcd sessions expire (30 s by
# default; 5 s here).
QUICK_TICKS = {"proxy.timeTickInterval": 10, "queryCoord.checkInterval": 100, "queryCoord.distPullInterval": 50,
               "common.session.ttl": 5}


class MilvusServer:
    """One server process over one data folder; `stop()` then `start()` keeps the data."""

    def __init__(self, folder: Path, quick_ticks: bool = True) -> None:
        from milvus import MilvusServer as Embedded

        self.folder = folder
        self._server = Embedded()
        self._server.set_base_dir(str(folder))
        if quick_ticks:
            for key, value in QUICK_TICKS.items():
                self._server.config.set(key, value)

    def start(self, timeout: float = 180.0) -> None:
        """Start and wait until healthy; a server that dies while starting (its embedded etcd
        always takes port 2380, so a second server on one machine does) raises with its log."""
        self._server.wait_for_started = False
        self._server.start()
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self._server.webservice_port}/healthz"
        while time.monotonic() < deadline:
            if self._server.server_proc.poll() is not None:
                self._server.server_proc = None
                raise RuntimeError(f"the Milvus server stopped while starting (another one running here?): "
                                   f"{self._log_tail()}")
            try:
                with urllib.request.urlopen(health, timeout=2) as answer:
                    if b"OK" in answer.read():
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"the Milvus server did not start in {timeout:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        log = self.folder / "logs" / "milvus-stderr.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return " | ".join(line for line in lines if "panic" in line or "rror" in line)[:600] or "no log"

    def stop(self) -> None:
        self._server.stop()

    def kill(self) -> None:
        """Like a crash of the server machine: no shutdown."""
        process = self._server.server_proc
        if process is not None:
            process.kill()
            process.wait()
        self._server.server_proc = None
        for handle in self._server.proc_fds.values():
            handle.close()
        self._server.proc_fds.clear()

    def restart(self) -> None:
        """Start again on the same ports and data (after `stop` or `kill`), as a restarted
        server machine would come back: clients reconnect to the address they know."""
        config = self._server.config
        for key, (_, port) in config.configurable_items.items():
            if key.endswith("_port"):
                config.configs[key] = port  # pinned: `resolve` takes a configured port as it is
        # The package checks a port by binding it without SO_REUSEADDR, which fails for a
        # minute after a killed server's connections (TIME_WAIT); the server itself reuses it.
        config.try_bind_port = _bind_reusing
        self.start()

    @property
    def port(self) -> int:
        return self._server.listen_port

    def url(self, collection: str, index: str = "FLAT") -> str:
        return f"milvus://127.0.0.1:{self.port}/{collection}?index={index}"


def _bind_reusing(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextmanager
def running_milvus(folder: Path) -> Iterator[MilvusServer]:
    server = MilvusServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()

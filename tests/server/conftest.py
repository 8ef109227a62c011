"""A real `lookalike serve` process on a free localhost port, over a real store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest


@dataclass
class RunningServer:
    url: str
    db: Path
    process: subprocess.Popen
    log: Path  # the server's stderr

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(db: Path, *args: str, env: dict[str, str] | None = None) -> RunningServer:
    port = free_port()
    command = [sys.executable, "-m", "lookalike.cli", "--db", str(db), "serve", "--port", str(port), *args]
    # The server's stderr goes to a file: a pipe nobody reads would fill up and stall the server.
    log = db.parent / f"{db.name}.serve-{port}.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return RunningServer(url, db, process, log)
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not answer /healthz within 60 s")


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="module")
def gallery_server(tmp_path_factory: pytest.TempPathFactory, gallery: Path) -> Iterator[RunningServer]:
    """A server over the demo gallery, indexed with labels, no API keys."""
    from lookalike import Collection

    db = tmp_path_factory.mktemp("served") / "gallery.db"
    with Collection(db) as collection:
        collection.index([gallery], label_from="prefix")
    server = start_server(db)
    yield server
    stop_server(server)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "serve(*options): `lookalike serve` options of a test's `server` fixture")

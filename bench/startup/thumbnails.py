"""Thumbnails served by a real `lookalike serve` on localhost: each thumbnail's first
request (made from the original file now) and then repeated requests (read from the
store's thumbnail folder), timed by a client on one kept-alive connection, as a browser
holds one. The requests send no If-None-Match: every answer carries the whole JPEG."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lookalike.layout import Layout

# The sizes the web page asks for (result rows, cards, the query preview).
PAGE_SIZES = (96, 320, 480)
START_TIMEOUT = 180.0  # seconds for the server to answer /healthz on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`lookalike --db DB serve` on a free localhost port, its stderr in a log file."""

    def __init__(self, lookalike: list[str], db: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with open(log, "wb") as stderr:
            self.process = subprocess.Popen([*lookalike, "--db", str(db), "serve", "--port", str(self.port)],
                                            env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        self.started_seconds = self._wait()

    def _wait(self) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < START_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(f"lookalike serve exited: {self.log.read_text(errors='replace')[-500:]}")
            try:
                status, _ = self.get("/healthz", timeout=2)
                if status == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"lookalike serve did not answer /healthz within {START_TIMEOUT:.0f} s")

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str, timeout: float = 60) -> tuple[int, bytes]:
        connection = self.connection(timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def percentiles_ms(seconds: Sequence[float]) -> dict[str, Any]:
    ms = np.asarray(seconds) * 1000
    return {"requests": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2)}


def measure_thumbnails(lookalike: list[str], db: Path, env: dict[str, str], rounds: int,
                       sizes: Sequence[int] = PAGE_SIZES) -> dict[str, Any]:
    """Start a server over `db` with no thumbnail kept, ask for every image's thumbnail at
    every size once (each made now), then `rounds` more times (each read from disk)."""
    shutil.rmtree(Layout(db).thumbnails, ignore_errors=True)
    server = Server(lookalike, db, env, db.parent / f"{db.name}.serve.log")
    try:
        status, body = server.get("/v1/images?limit=1000")
        if status != 200:
            raise RuntimeError(f"GET /v1/images answered {status}")
        urls = [image["thumbnail_url"] for image in json.loads(body)["images"]]
        paths = [f"{url}{'&' if '?' in url else '?'}size={size}" for size in sizes for url in urls]
        connection = server.connection()
        try:
            first = [_timed_get(connection, path) for path in paths]
            cached = [_timed_get(connection, path) for _ in range(rounds) for path in paths]
        finally:
            connection.close()
    finally:
        server.stop()
    return {
        "images": len(urls),
        "sizes": list(sizes),
        "rounds": rounds,
        "server_start_seconds": round(server.started_seconds, 2),
        "first": percentiles_ms([seconds for seconds, _ in first]),
        "cached": percentiles_ms([seconds for seconds, _ in cached]),
        "mean_bytes": round(float(np.mean([size for _, size in cached]))),
    }


def _timed_get(connection: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    """(seconds from sending the request to the last byte of the answer, its size)."""
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
    return elapsed, len(body)

"""ASGI middleware: caps on request bodies, JSON answers to unexpected failures, and request
timing for /metrics."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Awaitable, Callable

from .metrics import Metrics

log = logging.getLogger("lookalike.server")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


BodyLimit = Callable[[str, str, str], int]  # (method, path, content type) -> bytes


class LimitBodySize:
    """Answer 413 as soon as a body is known to be over its route's limit: from
    Content-Length before reading anything, or while streaming a body sent without one
    (counted as it arrives, never buffered first). `limit_for` gives each request's cap."""

    def __init__(self, app: ASGIApp, limit_for: BodyLimit) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        limit = self.limit_for(scope["method"], scope["path"], headers.get(b"content-type", b"").decode("latin-1"))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _too_large(send, limit)
        seen = 0
        started = answered = False

        async def counting_receive() -> Message:
            nonlocal seen, answered
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                if not started and not answered:
                    answered = True
                    await _too_large(send, limit)
                raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 went out; whatever the app makes of the error is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started and not answered:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    await send_json_error(send, 413, f"request body over this route's limit of {limit:,} bytes",
                          [(b"connection", b"close")])


async def send_json_error(send: Send, status: int, detail: str,
                          headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """An error answer from a middleware, shaped like every other error: {"detail": ...}."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class AnswerUnexpectedErrors:
    """A failure no handler knows becomes a JSON 500 with a generic message; the traceback
    goes to the server's log, never to the client. Caught here rather than left to
    Starlette's last-resort handler, which answers in plain text and makes the server drop
    the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            if started:
                raise  # half an answer went out: only closing the connection tells the client
            await send_json_error(send, 500, "internal error; the server's log has the details")


class RecordTimings:
    """Count and time every request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)

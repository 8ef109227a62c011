"""ASGI middleware that keeps other web pages out, whether or not API keys are set:

- DNS rebinding: a page on attacker.example re-points its name at 127.0.0.1 and reads the
  collection as "same origin". The browser still sends `Host: attacker.example`, so a Host
  the server does not know is refused (400).
- Cross-site writes: any page can make a browser POST a form here. A state-changing request
  (anything but GET, HEAD, OPTIONS) whose Origin (or, without one, Sec-Fetch-Site or Referer)
  names another site is refused (403), unless that origin was allowed.

Requests without those headers (curl, scripts, the Python client) are not browsers' and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .config import ALLOWED_HOSTS_ENV, ALLOWED_ORIGINS_ENV, ServerConfig
from .middleware import ASGIApp, Receive, Scope, Send, send_json_error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class RefuseForeignPages:
    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get("host", "")
        if host and not self.config.host_allowed(host_name(host)):
            return await send_json_error(send, 400, (
                f"this server does not answer to the host name {host_name(host)!r} (a guard against DNS "
                f"rebinding); if it is this server's name, start it with --allow-host {host_name(host)} "
                f"(or {ALLOWED_HOSTS_ENV})"))
        if scope.get("method", "GET") not in SAFE_METHODS:
            foreign = self._foreign_source(headers, host)
            if foreign is not None:
                option = foreign if "://" in foreign else "ORIGIN"
                return await send_json_error(send, 403, (
                    f"a page from {foreign} may not change or query this collection (cross-site request "
                    f"refused); if that page is yours, start the server with --allow-origin {option} "
                    f"(or {ALLOWED_ORIGINS_ENV})"))
        await self.app(scope, receive, send)

    def _foreign_source(self, headers: dict[str, str], host: str) -> str | None:
        """The web origin a browser says this request comes from, when it is not this server's
        own and not allowed; None when it is fine (or no browser sent it)."""
        origin = headers.get("origin")
        referer = headers.get("referer")
        if origin is None and referer:
            origin = _origin_of(referer)
        site = headers.get("sec-fetch-site")
        if origin is None:
            if site in ("cross-site", "same-site") and not self.config.origin_allowed("*"):
                return f"another site (Sec-Fetch-Site: {site}, no Origin)"
            return None
        if origin != "null" and site not in ("cross-site", "same-site") and _same_origin(origin, host):
            return None
        return None if self.config.origin_allowed(origin) else origin


def host_name(host: str) -> str:
    """The name in a Host header, without its port: "[::1]:8000" -> "::1"."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"


def _same_origin(origin: str, host: str) -> bool:
    """Origin "http://127.0.0.1:8000" is this server's own page when the request's Host is
    "127.0.0.1:8000". A Host without a port (behind a TLS proxy, say) matches its name on a
    default port, whatever the scheme the proxy was reached with."""
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        return False
    name = (parts.hostname or "").lower()
    if name != host_name(host).lower().rstrip("."):
        return False
    has_port = not host.endswith("]") and host.count(":") == 1 or "]:" in host
    if not has_port:
        return port is None or str(port) in _DEFAULT_PORTS.values()
    own_port = host.rsplit(":", 1)[1]
    return own_port == str(port if port is not None else _DEFAULT_PORTS.get(parts.scheme, ""))

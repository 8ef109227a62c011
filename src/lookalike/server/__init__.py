"""HTTP service and web page over a lookalike collection: `lookalike serve`.

`create_app` is imported on first use, so that the command line can read `server.config`
(option names, environment variables) without loading FastAPI."""

from __future__ import annotations

from typing import Any

from .config import ServerConfig

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

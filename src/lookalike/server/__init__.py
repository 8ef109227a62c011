"""HTTP service and web page over a lookalike collection: `lookalike serve`."""

from .app import create_app
from .config import ServerConfig

__all__ = ["ServerConfig", "create_app"]

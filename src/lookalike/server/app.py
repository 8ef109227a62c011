"""create_app(config) -> the FastAPI application: API routes, web page, offline API docs."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from .config import ServerConfig
from .errors import install_error_handlers
from .middleware import LimitBodySize, RecordTimings
from .routes import collection, images, search
from .service import Service

STATIC = Path(__file__).parent / "static"


def create_app(config: ServerConfig | None = None) -> FastAPI:
    config = config or ServerConfig()
    service = Service(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="lookalike",
        version=__version__,
        description="Search an image collection by image: upload, search, compare, duplicates.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    for router in (images.router, search.router, collection.router):
        app.include_router(router)
    install_error_handlers(app)
    _mount_page_and_docs(app)
    app.add_middleware(LimitBodySize, max_bytes=service.config.max_request_bytes)
    app.add_middleware(RecordTimings, metrics=service.metrics)
    return app


def _mount_page_and_docs(app: FastAPI) -> None:
    """The web page at /, and Swagger UI at /docs from a pip-installed bundle (no CDN)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="lookalike API",
            swagger_js_url="/swagger/swagger-ui-bundle.js",
            swagger_css_url="/swagger/swagger-ui.css",
            swagger_favicon_url="/swagger/favicon-32x32.png",
        )

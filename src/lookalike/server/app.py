"""create_app(config) -> the FastAPI application: API routes, web page, offline API docs."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from .. import __version__
from .config import COMPARE_FILES, MAX_JSON_BYTES, SEARCH_FILES, ServerConfig
from .errors import install_error_handlers
from .guard import RefuseForeignPages
from .middleware import AnswerUnexpectedErrors, BodyLimit, LimitBodySize, RecordTimings, log
from .routes import collection, dedup, images, search
from .service import Service, remove_abandoned_uploads

STATIC = Path(__file__).parent / "static"
SWAGGER_UI_FILES = "/swagger"


def create_app(config: ServerConfig | None = None) -> FastAPI:
    config = config or ServerConfig()
    service = Service(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        removed = remove_abandoned_uploads(service.upload_dir)
        if removed:
            log.warning("removed %d unfinished upload file(s) left by an earlier run in %s",
                        len(removed), service.upload_dir)
        yield
        service.close()

    # Swagger UI 5 (it reads the OpenAPI 3.1 document FastAPI writes) at /docs, its files
    # served from the pip-installed fastapi-offline at /swagger: no CDN, the docs work offline.
    app = FastAPIOffline(
        docs_url="/docs",
        redoc_url=None,
        static_url=SWAGGER_UI_FILES,
        title="lookalike",
        version=__version__,
        description="Search an image collection by image: upload, search, compare, duplicates.",
        lifespan=lifespan,
    )
    app.state.service = service
    for router in (images.router, search.router, collection.router, dedup.router):
        app.include_router(router)
    install_error_handlers(app)
    _mount_page(app)
    app.add_middleware(AnswerUnexpectedErrors)
    app.add_middleware(LimitBodySize, limit_for=body_limits(service.config))
    app.add_middleware(RefuseForeignPages, config=service.config)  # before reading any body
    app.add_middleware(RecordTimings, metrics=service.metrics)
    return app


def body_limits(config: ServerConfig) -> BodyLimit:
    """Each route takes the body it needs: an upload up to its files at their limit, a
    search one image, a compare two, anything else (JSON options, nothing) a small cap."""
    multipart = {
        images.router.prefix: config.max_request_bytes,
        f"{search.router.prefix}/search": config.max_body_bytes(SEARCH_FILES),
        f"{search.router.prefix}/compare": config.max_body_bytes(COMPARE_FILES),
    }

    def limit_for(method: str, path: str, content_type: str) -> int:
        if method == "POST" and content_type.startswith("multipart/form-data"):
            return multipart.get(path.rstrip("/"), MAX_JSON_BYTES)
        return MAX_JSON_BYTES

    return limit_for


def _mount_page(app: FastAPI) -> None:
    """The web page at /, its files at /static."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

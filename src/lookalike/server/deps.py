"""FastAPI dependencies: the shared Service, the API-key checks, and an image by its id."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status

from ..records import ImageRecord
from ..errors import NotInCollection
from .config import MAX_IMAGE_ID
from .service import Service


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def has_valid_key(request: Request, service: Service) -> bool:
    presented = _presented_key(request)
    return presented is not None and any(hmac.compare_digest(presented, key) for key in service.config.api_keys)


def _check_key(request: Request, service: Service) -> None:
    if not has_valid_key(request, service):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API key is required (header 'X-API-Key: KEY' or 'Authorization: Bearer KEY')",
            headers={"WWW-Authenticate": "Bearer"},
        )


def may_read(request: Request, service: Service) -> bool:
    return not service.config.reads_need_key or has_valid_key(request, service)


def require_read(request: Request, service: ServiceDep) -> None:
    if service.config.reads_need_key:
        _check_key(request, service)


def require_write(request: Request, service: ServiceDep) -> None:
    if service.config.api_keys:
        _check_key(request, service)


def require_metrics(request: Request, service: ServiceDep) -> None:
    """Metrics tell how big the collection is: readers only, unless `--open-metrics`."""
    if not service.config.open_metrics:
        require_read(request, service)


def image_id_in_path(image_id: Annotated[int, Path(description="An image's id.")]) -> int:
    """An id no store can hold names no image: 404, as for any other unknown id."""
    if not 0 <= image_id <= MAX_IMAGE_ID:
        raise NotInCollection(image_id)
    return image_id


ImageId = Annotated[int, Depends(image_id_in_path)]


def readable_image(request: Request, service: ServiceDep, image_id: ImageId) -> ImageRecord:
    """The record of an image whose file or thumbnail is asked for. Besides a key, a signed
    URL (see Service.sign_url) opens it, only while the image is the one it was signed for:
    once that image is gone the URL answers 410, even if its id names another picture."""
    version = service.signed_version(request.url.path, request.query_params)
    if version is None:
        require_read(request, service)
    with service.lock.reading():
        record = service.collection.get(image_id)
    if version is not None and not record.sha256.startswith(version):
        raise HTTPException(status.HTTP_410_GONE, "the image this signed URL was made for is no longer in the collection")
    return record


CanRead = Depends(require_read)
CanWrite = Depends(require_write)
CanReadMetrics = Depends(require_metrics)
ReadableImage = Annotated[ImageRecord, Depends(readable_image)]

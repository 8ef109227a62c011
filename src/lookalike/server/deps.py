"""FastAPI dependencies: the shared Service and the API-key checks."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

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


def _check_key(request: Request, service: Service) -> None:
    keys = service.config.api_keys
    presented = _presented_key(request)
    if presented is None or not any(hmac.compare_digest(presented, key) for key in keys):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API key is required (header 'X-API-Key: KEY' or 'Authorization: Bearer KEY')",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_read(request: Request, service: ServiceDep) -> None:
    if service.config.api_keys and not service.config.read_open:
        _check_key(request, service)


def require_write(request: Request, service: ServiceDep) -> None:
    if service.config.api_keys:
        _check_key(request, service)


def require_read_image(request: Request, service: ServiceDep) -> None:
    """Image files and thumbnails also open with a valid signed URL (see Service.sign_url)."""
    if not service.has_valid_signature(request.url.path, request.query_params):
        require_read(request, service)


CanRead = Depends(require_read)
CanReadImage = Depends(require_read_image)
CanWrite = Depends(require_write)

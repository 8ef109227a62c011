"""Search by image and compare two images: /v1/search, /v1/compare."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from ..config import MAX_IMAGE_ID, SEARCH_FILES
from ..deps import CanRead, ServiceDep
from ..service import Service
from .images import existing_file
from .views import match_view

router = APIRouter(prefix="/v1", tags=["search"])


class SearchOptions(BaseModel):
    id: int | None = Field(None, ge=0, le=MAX_IMAGE_ID, description="Search with a stored image instead of an upload.")
    k: int = Field(10, ge=1, le=1000)
    min_score: float = Field(0.0, ge=0.0, le=1.0)


_SEARCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "k": {"type": "integer", "default": 10, "minimum": 1, "maximum": 1000},
                        "min_score": {"type": "number", "default": 0, "minimum": 0, "maximum": 1},
                    },
                }
            },
            "application/json": {"schema": SearchOptions.model_json_schema()},
        },
    }
}


@router.post("/search", dependencies=[CanRead], openapi_extra=_SEARCH_BODY)
async def search_images(request: Request, service: ServiceDep) -> dict[str, Any]:
    """Ranked matches for an uploaded image (multipart `file`) or a stored one
    (JSON `{"id": ...}`), each with a score in [0, 1] and a tier."""
    source, options = await _read_search_request(request, service)
    return await run_in_threadpool(_search, service, source, options)


def _search(service: Service, source: bytes | int, options: SearchOptions) -> dict[str, Any]:
    with service.lock.reading():
        if isinstance(source, int):
            source = existing_file(service.collection.get(source))
        matches = service.collection.search(source, k=options.k, min_score=options.min_score)
    return {"results": [match_view(m, service.sign_url) for m in matches]}


async def _read_search_request(request: Request, service: Service) -> tuple[bytes | int, SearchOptions]:
    """The query (upload bytes, or a stored image's id) and the options, from either body."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            options = SearchOptions.model_validate(json.loads(await request.body() or b"{}"))
            if options.id is None:
                raise HTTPException(422, "give an image file (multipart 'file') or a stored image's 'id'")
            return options.id, options
        form = await request.form(max_files=SEARCH_FILES)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) and not hasattr(upload, "read"):
            raise HTTPException(422, "multipart field 'file' with an image is required")
        options = SearchOptions.model_validate({k: v for k, v in form.items() if k in ("k", "min_score")})
        data = await upload.read(service.config.max_file_bytes + 1)
        if len(data) > service.config.max_file_bytes:
            raise HTTPException(413, f"file over the limit of {service.config.max_file_bytes:,} bytes")
        return data, options
    except ValidationError as error:
        raise HTTPException(422, _plain(error)) from None
    except ValueError as error:
        raise HTTPException(422, f"not a valid request body: {error}") from None


def _plain(error: ValidationError) -> str:
    """Pydantic's findings in one line a person reads ("k: Input should be ... 1")."""
    return "; ".join(f"{'.'.join(map(str, item['loc'])) or 'body'}: {item['msg']}" for item in error.errors())


@router.post("/compare", dependencies=[CanRead])
def compare_images(
    service: ServiceDep,
    first: Annotated[UploadFile, File()],
    second: Annotated[UploadFile, File()],
) -> dict[str, Any]:
    """A score in [0, 1] for two images and a verdict with its threshold: "same" (the same
    picture: a copy, an edit, a crop), "same-object" (another photograph of the same thing,
    verified by keypoints) or "different"; `explanation.keypoints` says why."""
    limit = service.config.max_file_bytes
    data = [upload.file.read(limit + 1) for upload in (first, second)]
    if any(len(d) > limit for d in data):
        raise HTTPException(413, f"file over the limit of {limit:,} bytes")
    with service.lock.reading():  # the collection's features and models, loaded once
        result = service.collection.compare(data[0], data[1])
    return result.to_dict()

"""Upload, read and delete images: /v1/images."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from PIL import Image

from ...decode import load_image
from ...errors import DecodeError, ImageTooLarge
from ..deps import CanRead, CanReadImage, CanWrite, ServiceDep
from ..errors import status_for
from ..service import Service
from .views import image_view

router = APIRouter(prefix="/v1/images", tags=["images"])

_MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
                "BMP": "image/bmp", "TIFF": "image/tiff"}


@router.post("", status_code=201, dependencies=[CanWrite])
def upload_images(
    service: ServiceDep,
    files: Annotated[list[UploadFile], File(description="One or more image files.")],
    labels: Annotated[list[str], Form(description="One label for all files, or one per file.")] = [],  # noqa: B006
) -> JSONResponse:
    """Add images to the collection. Each file is stored whole or not at all; the answer
    lists the ids of stored files and an error for each refused one."""
    limit = service.config.max_files_per_request
    if len(files) > limit:
        raise HTTPException(413, f"{len(files)} files in one request; the limit is {limit}")
    if len(labels) not in (0, 1, len(files)):
        raise HTTPException(422, "give one label for all files or one label per file")
    kept: list[tuple[str, Path, str | None]] = []
    errors: list[dict[str, Any]] = []
    for number, upload in enumerate(files):
        name = upload.filename or f"file {number + 1}"
        label = labels[number] if len(labels) == len(files) else (labels[0] if labels else None)
        try:
            kept.append((name, _keep(service, upload, name), label or None))
        except DecodeError as error:
            errors.append({"filename": name, "status": status_for(error), "error": error.reason})
    stored = _index_kept(service, kept)
    status = 201 if stored or not errors else errors[0]["status"]
    return JSONResponse({"images": stored, "errors": errors}, status_code=status)


def _keep(service: Service, upload: UploadFile, name: str) -> Path:
    limit = service.config.max_file_bytes
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLarge(name, len(data), limit, unit="bytes")
    return service.keep_upload(data, name)


def _index_kept(service: Service, kept: list[tuple[str, Path, str | None]]) -> list[dict[str, Any]]:
    if not kept:
        return []
    labels = {str(path.resolve()): label for _, path, label in kept}
    names = {str(path.resolve()): Path(name).name for name, path, _ in kept}  # a name, never a path
    with service.lock.writing():
        known = {str(path.resolve()) for _, path, _ in kept if service.collection.store.path_state(str(path.resolve()))}
        service.collection.add([path for _, path, _ in kept], labels=labels, names=names)
        store = service.collection.store
        stored = []
        for name, path, _ in kept:
            state = store.path_state(str(path.resolve()))
            if state is not None:
                stored.append({"filename": name, "new": str(path.resolve()) not in known,
                               **image_view(service.collection.get(state[0]), service.sign_url)})
    return stored


@router.get("", dependencies=[CanRead])
def list_images(
    service: ServiceDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    with service.lock.reading():
        total = service.collection.store.counts()["images"]
        page = service.collection.page(offset, limit)
    return {"total": total, "offset": offset, "limit": limit, "images": [image_view(i, service.sign_url) for i in page]}


@router.get("/{image_id}", dependencies=[CanRead])
def get_image(service: ServiceDep, image_id: int) -> dict[str, Any]:
    with service.lock.reading():
        return image_view(service.collection.get(image_id), service.sign_url)


@router.get("/{image_id}/file", dependencies=[CanReadImage], response_class=FileResponse)
def get_image_file(service: ServiceDep, image_id: int) -> FileResponse:
    with service.lock.reading():
        record = service.collection.get(image_id)
    path = _existing_path(record.paths)
    return FileResponse(path, media_type=_MEDIA_TYPES.get(record.format, "application/octet-stream"))


@router.get("/{image_id}/thumbnail", dependencies=[CanReadImage], response_class=Response)
def get_thumbnail(
    service: ServiceDep, image_id: int, size: Annotated[int, Query(ge=16, le=1024)] = 256
) -> Response:
    """A JPEG no larger than size x size."""
    with service.lock.reading():
        record = service.collection.get(image_id)
    image = load_image(_existing_path(record.paths), min_side=size,
                       max_pixels=service.config.settings.max_pixels).image
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return Response(buffer.getvalue(), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{record.sha256}-{size}"'})


@router.delete("/{image_id}", status_code=204, dependencies=[CanWrite])
def delete_image(service: ServiceDep, image_id: int) -> Response:
    with service.lock.writing():
        record = service.collection.get(image_id)
        service.collection.remove([image_id])
    for path in record.paths:
        if Path(path).is_relative_to(service.upload_dir.resolve()):
            Path(path).unlink(missing_ok=True)  # our own copy of an upload
    return Response(status_code=204)


def _existing_path(paths: tuple[str, ...]) -> str:
    for path in paths:
        if Path(path).is_file():
            return path
    raise HTTPException(410, "the image's file is no longer on disk")

"""Upload, read and delete images: /v1/images."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from ...errors import DecodeError, ImageTooLarge
from ...records import ImageRecord
from ...thumbnails import SIZES
from ..config import MAX_LABEL_CHARS
from ..deps import CanRead, CanWrite, ImageId, ReadableImage, ServiceDep
from ..errors import status_for
from ..service import PendingUpload, Service
from .views import image_view

router = APIRouter(prefix="/v1/images", tags=["images"])

_MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
                "BMP": "image/bmp", "TIFF": "image/tiff", "HEIF": "image/heif", "AVIF": "image/avif",
                "MP4": "video/mp4", "M4V": "video/mp4", "MOV": "video/quicktime", "MKV": "video/x-matroska",
                "WEBM": "video/webm", "AVI": "video/x-msvideo"}


@router.post("", status_code=201, dependencies=[CanWrite], responses={
    200: {"description": "Every file was stored already (same content): nothing new."},
    409: {"description": "The only file is stored already with another label (the label is not changed)."},
})
def upload_images(
    service: ServiceDep,
    files: Annotated[list[UploadFile], File(description="One or more image files.")],
    labels: Annotated[list[str], Form(description=f"One label for all files, or one per file; up to "
                                                  f"{MAX_LABEL_CHARS} characters, no control characters.")] = [],  # noqa: B006
) -> JSONResponse:
    """Add images to the collection. Each file is stored whole or not at all; the answer
    lists the stored files (`new`: false when the same content was stored already) and an
    error for each refused one. 201 when something new was stored, 200 when all of it was
    there already; a file stored already under another label is refused with 409 (its label
    stays what it was, as the answer says)."""
    limit = service.config.max_files_per_request
    if len(files) > limit:
        raise HTTPException(413, f"{len(files)} files in one request; the limit is {limit}")
    if len(labels) not in (0, 1, len(files)):
        raise HTTPException(422, "give one label for all files or one label per file")
    for label in labels:
        _check_label(label)
    pending: list[tuple[str, PendingUpload, str | None]] = []
    errors: list[dict[str, Any]] = []
    try:
        for number, upload in enumerate(files):
            name = upload.filename or f"file {number + 1}"
            label = labels[number] if len(labels) == len(files) else (labels[0] if labels else None)
            try:
                pending.append((name, _check(service, upload, name), label or None))
            except DecodeError as error:
                errors.append({"filename": name, "status": status_for(error), "error": error.reason})
        stored, conflicts = _store_pending(service, pending)
    finally:
        for _, upload_file, _ in pending:
            upload_file.discard()
    errors += conflicts
    if any(image["new"] for image in stored):
        status = 201
    else:
        status = 200 if stored or not errors else errors[0]["status"]
    return JSONResponse({"images": stored, "errors": errors}, status_code=status)


def _check_label(label: str) -> None:
    if len(label) > MAX_LABEL_CHARS:
        raise HTTPException(422, f"label of {len(label):,} characters; the limit is {MAX_LABEL_CHARS}")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in label):
        raise HTTPException(422, f"label {label[:40]!r} holds control characters (line breaks, escapes); "
                                 "give plain text")


def _check(service: Service, upload: UploadFile, name: str) -> PendingUpload:
    limit = service.config.max_file_bytes
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLarge(name, len(data), limit, unit="bytes", fix=service.config.settings.limit_advice.bytes)
    return service.check_upload(data, name)


def _store_pending(
    service: Service, pending: list[tuple[str, PendingUpload, str | None]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Under one hold of the write lock: refuse relabelling, rename the files into place,
    add them to the collection. (stored images, conflicts)."""
    if not pending:
        return [], []
    conflicts: list[dict[str, Any]] = []
    with service.lock.writing():
        kept: list[tuple[str, Path, str | None]] = []
        for name, upload, label in pending:
            record = service.collection.find(upload.sha256)
            if record is not None and label is not None and record.label != label:
                stored_as = f"label {record.label!r}" if record.label else "no label"
                conflicts.append({"filename": name, "status": 409, "error": (
                    f"already stored as image {record.id} with {stored_as}; uploading it again does not "
                    f"change its label (delete it and upload it again to relabel it)")})
                continue
            kept.append((name, upload.keep(), label))
        if not kept:
            return [], conflicts
        resolved = [str(path.resolve()) for _, path, _ in kept]
        labels = {path: label for path, (_, _, label) in zip(resolved, kept)}
        names = {path: Path(name).name for path, (name, _, _) in zip(resolved, kept)}  # a name, never a path
        known = {path for path in resolved if service.collection.image_at(path) is not None}
        service.collection.add([path for _, path, _ in kept], labels=labels, names=names)
        stored = []
        for path, (name, _, _) in zip(resolved, kept):
            record = service.collection.image_at(path)
            if record is not None:
                stored.append({"filename": name, "new": path not in known, **image_view(record, service.sign_url)})
    return stored, conflicts


@router.get("", dependencies=[CanRead])
def list_images(
    service: ServiceDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    with service.lock.reading():
        total = len(service.collection)
        page = service.collection.page(offset, limit)
    return {"total": total, "offset": offset, "limit": limit, "images": [image_view(i, service.sign_url) for i in page]}


@router.get("/{image_id}", dependencies=[CanRead])
def get_image(service: ServiceDep, image_id: ImageId) -> dict[str, Any]:
    with service.lock.reading():
        return image_view(service.collection.get(image_id), service.sign_url)


@router.get("/{image_id}/file", response_class=FileResponse)
def get_image_file(record: ReadableImage) -> FileResponse:
    path = existing_file(record)
    return FileResponse(path, media_type=_MEDIA_TYPES.get(record.format, "application/octet-stream"))


@router.get("/{image_id}/thumbnail", response_class=Response)
def get_thumbnail(
    request: Request, service: ServiceDep, record: ReadableImage,
    size: Annotated[int, Query(ge=16, le=SIZES[-1])] = 256,
) -> Response:
    """A JPEG no larger than size x size, made once and then served from the store's
    thumbnail folder (the sizes the web page asks for, 256 and 1024 as files; any other from
    the next larger one)."""
    headers = {"Cache-Control": "private, max-age=86400", "ETag": f'"{record.sha256}-{size}"'}
    if headers["ETag"] in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    with service.lock.reading():  # a delete waits, then deletes what this made
        service.collection.get(record.id)
        thumbnail = service.thumbnails.jpeg(record, size)
    return Response(thumbnail, media_type="image/jpeg", headers=headers)


@router.delete("/{image_id}", status_code=204, dependencies=[CanWrite])
def delete_image(service: ServiceDep, image_id: ImageId) -> Response:
    with service.lock.writing():  # the catalog and our copy of the file go together
        record = service.collection.get(image_id)
        service.collection.remove([image_id])
        service.forget_upload_files(record.paths)
    return Response(status_code=204)


def existing_file(record: ImageRecord) -> str:
    """The image's file, or 410 when every copy of it is gone from disk."""
    path = record.existing_path()
    if path is None:
        raise HTTPException(410, "the image's file is no longer on disk")
    return path

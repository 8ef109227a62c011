"""JSON shapes of library records as the API returns them (URLs added for the page)."""

from __future__ import annotations

from typing import Any

from ...records import ImageRecord, Match


def image_view(image: ImageRecord) -> dict[str, Any]:
    return {
        "id": image.id,
        "label": image.label,
        "width": image.width,
        "height": image.height,
        "bytes": image.bytes,
        "format": image.format,
        "sha256": image.sha256,
        "added_at": image.added_at,
        "name": _display_name(image),
        "file_url": f"/v1/images/{image.id}/file",
        "thumbnail_url": f"/v1/images/{image.id}/thumbnail",
    }


def match_view(match: Match) -> dict[str, Any]:
    data = match.to_dict()
    data.pop("path", None)
    data.pop("paths", None)
    return {**data, "image": image_view(match.image)}


def _display_name(image: ImageRecord) -> str:
    """The file name people recognise; uploads are kept under their hash, so say 'upload'."""
    from pathlib import Path

    for path in image.paths:
        if ".files/" not in path:
            return Path(path).name
    return f"upload {image.sha256[:10]}"

"""JSON shapes of library records as the API returns them (URLs added for the page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ...records import ImageRecord, Match, timestamp, video_fields


Signer = Callable[[str, str], str]  # (url, the image's sha256) -> url, signed when reads need a key


def _unsigned(url: str, sha256: str) -> str:
    return url


def image_view(image: ImageRecord, sign: Signer = _unsigned) -> dict[str, Any]:
    """`sign` adds a signature, bound to the image's content, to the image URLs when reads
    need a key (an <img> cannot send one)."""
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
        "names": sorted({Path(p).name for p in image.paths if ".files/" not in p} | ({image.name} if image.name else set())),
        "file_url": sign(f"/v1/images/{image.id}/file", image.sha256),
        "thumbnail_url": sign(f"/v1/images/{image.id}/thumbnail", image.sha256),
        **video_fields(image),  # a video frame: its time (the thumbnail is that frame)
    }


def match_view(match: Match, sign: Signer = _unsigned) -> dict[str, Any]:
    data = match.to_dict()
    data.pop("path", None)
    data.pop("paths", None)
    return {**data, "image": image_view(match.image, sign)}


def _display_name(image: ImageRecord) -> str:
    """The name people know the image by: its recorded name, else its file's name."""
    if image.name:
        name = image.name
    else:
        name = Path(image.paths[0]).name if image.paths else f"image {image.sha256[:10]}"
    return name if image.seconds is None else f"{name} @ {timestamp(image.seconds)}"

"""What a file says about itself that helps choose which copy to keep: pixels, how hard it
was compressed (a JPEG's quality estimated from its quantisation tables), its EXIF date and
camera, and when the file was last written. Headers only: no pixel is decoded here.

JPEG quality: an encoder following the IJG reference (libjpeg, Pillow, most cameras and
editors) scales the standard luminance table (Annex K of ITU T.81) by 5000 / Q below
quality 50 and by 200 - 2Q above; the quality whose scaled table is closest to the file's
is its estimate (exact for IJG encoders, a fair guess for the rest).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

# Formats that keep every pixel they are given: above any JPEG quality, by more than the
# keeper rule's tolerance (a JPEG at quality 100 still loses some).
LOSSLESS_FORMATS = frozenset({"PNG", "TIFF", "BMP", "DIB"})
LOSSLESS_QUALITY = 110
# The EXIF tags that make metadata "rich": when and with what the picture was taken.
EXIF_DATE_ORIGINAL, EXIF_DATE, EXIF_MAKE, EXIF_MODEL, EXIF_GPS, EXIF_LENS = 0x9003, 0x0132, 0x010F, 0x0110, 0x8825, 0xA434
_EXIF_IFD = 0x8769

_STANDARD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)


@dataclass(frozen=True)
class FileFacts:
    """`quality`: LOSSLESS_QUALITY for a lossless format, 1..100 for a JPEG, None unknown."""

    path: str
    pixels: int
    width: int
    height: int
    format: str | None
    quality: int | None
    taken: str | None  # EXIF DateTimeOriginal (else DateTime), as written
    camera: str | None  # EXIF Make and Model
    metadata_fields: int  # how many of date, camera make, model, GPS, lens the file records
    mtime_ns: int
    size: int


def file_facts(path: str | Path) -> FileFacts:
    """The facts of one file; a header Pillow cannot read leaves them unknown (0, None)."""
    info = os.stat(path)
    width = height = 0
    fmt = quality = taken = camera = None
    fields = 0
    try:
        with Image.open(path) as image:  # lazy: reads the header, decodes nothing
            width, height, fmt = image.width, image.height, image.format
            quality = _quality(image)
            taken, camera, fields = _exif(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        pass
    return FileFacts(str(path), width * height, width, height, fmt, quality, taken, camera, fields,
                     info.st_mtime_ns, info.st_size)


def jpeg_quality(luminance: list[int] | tuple[int, ...]) -> int:
    """The IJG quality (1..100) whose scaled standard table is closest to `luminance`
    (64 values in natural order, as Pillow's `quantization[0]` gives them)."""
    def table(quality: int) -> list[int]:
        scale = 5000 / quality if quality < 50 else 200 - 2 * quality
        return [min(255, max(1, int((value * scale + 50) // 100))) for value in _STANDARD_LUMINANCE]

    return min(range(1, 101), key=lambda q: (sum(abs(a - b) for a, b in zip(table(q), luminance)), -q))


def _quality(image: Image.Image) -> int | None:
    if image.format in LOSSLESS_FORMATS:
        return LOSSLESS_QUALITY
    if image.format == "WEBP":
        return LOSSLESS_QUALITY if "VP8L" in str(image.info.get("compression", "")) else None
    tables = getattr(image, "quantization", None)
    if image.format == "JPEG" and tables and 0 in tables and len(tables[0]) == 64:
        return jpeg_quality(list(tables[0]))
    return None


def _exif(image: Image.Image) -> tuple[str | None, str | None, int]:
    exif = image.getexif()
    if not exif:
        return None, None, 0
    extra = exif.get_ifd(_EXIF_IFD)
    taken = extra.get(EXIF_DATE_ORIGINAL) or exif.get(EXIF_DATE)
    camera = " ".join(str(exif[tag]).strip("\0 ") for tag in (EXIF_MAKE, EXIF_MODEL) if exif.get(tag)) or None
    present = [extra.get(EXIF_DATE_ORIGINAL) or exif.get(EXIF_DATE), exif.get(EXIF_MAKE), exif.get(EXIF_MODEL),
               exif.get(EXIF_GPS), extra.get(EXIF_LENS)]
    return (str(taken).strip("\0 ") if taken else None), camera, sum(value is not None for value in present)

"""bytes or path -> RGB image. The only place that calls Image.open.

One safe loader for every path: a byte cap and a pixel cap against decompression bombs,
EXIF orientation applied, every mode converted predictably to 8-bit RGB (alpha flattened
on white, 16-bit scaled, palette and CMYK converted), the first frame of animations, and
JPEG draft mode so that a large photo is decoded at reduced size when only a small
version is needed (decoding dominates the cost of hashing).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import CorruptImage, DecodeError, ImageTooLarge, NotAnImage

# We enforce our own pixel limit before decoding; Pillow's global one would raise at 2x
# its default regardless of the caller's settings.
Image.MAX_IMAGE_PIXELS = None

DEFAULT_MAX_PIXELS = 180_000_000
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Decoded:
    """An upright RGB image plus what the file said about itself before any draft scaling."""

    image: Image.Image
    format: str
    width: int
    height: int


def read_bytes(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a file whole, refusing empty files and files over `max_bytes`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageTooLarge(path, size, max_bytes, unit="bytes")
        data = path.read_bytes()
    except IsADirectoryError:
        raise NotAnImage(path, "is a directory") from None
    except FileNotFoundError:
        raise DecodeError(path, "no such file") from None
    except PermissionError:
        raise DecodeError(path, "permission denied") from None
    if not data:
        raise NotAnImage(path, "empty file")
    return data


def decode_image(
    data: bytes,
    source: str | Path = "<bytes>",
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Decoded:
    """Decode image bytes into an upright 8-bit RGB image.

    `min_side`: the caller needs no more than this many pixels on the short side, which
    lets JPEGs decode at 1/2, 1/4 or 1/8 scale. Raises a `DecodeError` subclass naming
    `source` for empty, non-image, corrupt, truncated or oversized input.
    """
    if not data:
        raise NotAnImage(source, "empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise NotAnImage(source, "not an image in a supported format") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImage(source, f"unreadable image header ({exc})") from None
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise ImageTooLarge(source, pixels, max_pixels)
        if pixels == 0:
            raise CorruptImage(source, "image has no pixels")
        try:
            width, height = _upright_size(image)  # before draft mode shrinks it
            upright = _to_upright_rgb(image, min_side)
            return Decoded(upright, image.format or "unknown", width, height)
        except (OSError, SyntaxError, ValueError, IndexError, EOFError) as exc:
            raise CorruptImage(source, f"damaged or truncated image data ({exc})") from None


def load_image(
    path: str | Path,
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Decoded:
    """Read and decode a file: `decode_image(read_bytes(path))`."""
    return decode_image(read_bytes(path, max_bytes), path, min_side=min_side, max_pixels=max_pixels)


def _to_upright_rgb(image: Image.Image, min_side: int | None) -> Image.Image:
    if min_side and image.format == "JPEG":
        _draft_for_min_side(image, min_side)
    image.seek(0)  # first frame of GIF/WebP/TIFF animations and multi-page files
    image.load()
    image = ImageOps.exif_transpose(image) or image
    return _to_rgb(image)


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """Full-resolution size after EXIF rotation."""
    orientation = image.getexif().get(0x0112, 1)
    width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _draft_for_min_side(image: Image.Image, min_side: int) -> None:
    """Ask libjpeg for the smallest DCT scale that keeps both sides >= min_side."""
    width, height = image.size
    scale = min(width, height) / float(min_side)
    if scale >= 2:
        image.draft("RGB", (max(1, int(width / scale)), max(1, int(height / scale))))


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        return _to_rgb(image)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _flatten_on_white(image.convert("RGBA"))
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_rgb(image)
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _flatten_on_white(image: Image.Image) -> Image.Image:
    background = Image.new("RGB", image.size, _WHITE)
    background.paste(image, mask=image.getchannel("A"))
    return background


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey: scale the type's full range to 0..255 (not the image's own range)."""
    array = np.asarray(image)
    if image.mode == "F":
        scaled = np.clip(array, 0.0, 1.0) * 255.0 if array.max(initial=0) <= 1.0 else np.clip(array, 0, 255)
    elif image.mode.startswith("I;16") or array.max(initial=0) <= 65535:
        scaled = np.clip(array, 0, 65535) / 257.0
    else:
        scaled = np.clip(array, 0, 2**32 - 1) / 16843009.0
    grey = Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")
    return grey.convert("RGB")

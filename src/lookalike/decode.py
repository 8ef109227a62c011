"""bytes or path -> RGB image. The only place that calls Image.open.

One safe loader for every path: a byte cap and a pixel cap against decompression bombs,
EXIF orientation applied, every mode converted predictably to 8-bit RGB (alpha flattened
on white, 16-bit scaled, palette and CMYK converted), the first frame of animations, and
JPEG draft mode so that a large photo is decoded at reduced size when only a small
version is needed (decoding dominates the cost of hashing).

Phones' and cameras' formats (docs/formats.md) go through the same limits: HEIC/HEIF through
pillow-heif and AVIF through Pillow's own reader (pillow-avif-plugin before Pillow 11.3),
both registered with Pillow only when a file starts like one (an ISO-BMFF `ftyp` box), so
that importing lookalike loads neither; camera RAW (told apart by its name: most RAW files
are TIFF inside) through rawpy, from its embedded preview when that is large enough, else
demosaiced (at half size when that is enough).

Whatever the input, the result is a `Decoded` or a `DecodeError` subclass naming the
file: Pillow's own exceptions and warnings never reach the caller.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import logging
import re
import stat
import struct
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from .errors import CorruptImage, DecodeError, ImageTooLarge, LimitAdvice, NotAnImage, OddShape
from .scan import RAW_SUFFIXES

DEFAULT_MAX_PIXELS = 180_000_000
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
# The longest side may be this many times the shortest: a long scrolling screenshot
# (1 x 50) or a banner (1 x 10) passes, a 1 x 5,000 strip (106 bytes of PNG) does not.
MAX_ASPECT = 100
_WHITE = (255, 255, 255)

# The formats the scanner collects. Refusing Pillow's other ~35 readers keeps their
# parsers (and surprises such as EPS calling Ghostscript) away from untrusted files.
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF", "HEIF", "AVIF")
_KNOWN = "not a JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC or AVIF image"
# ISO-BMFF brands (bytes 8-12, after `ftyp`) of HEIF and AVIF still images and sequences.
_PHONE_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"mif2", b"msf1",
                 b"avif", b"avis")
_FORMATS_EXTRA = "pip install 'lookalike[formats]'"
# A RAW file's embedded preview stands for it when its aspect is the RAW's within this share
# (a 160 x 120 thumbnail of a 3:2 sensor has black bars) and its short side is as large as
# the caller needs.
_PREVIEW_ASPECT_TOLERANCE = 0.02
_RAW_FLIP = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}
_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG (and MPO)
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
    b"II+\x00",  # BigTIFF
    b"MM\x00+",
)

# What Pillow's decoders raise on malformed input: not only OSError (fuzzing found a
# TypeError from a TIFF strip offset; struct.error and ZeroDivisionError have escaped
# other parsers). Anything else is a bug of ours and stays visible.
_PILLOW_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    IndexError,
    EOFError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
    struct.error,
)

_ORIENTATION = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _silence_libtiff() -> None:
    """Stop libtiff printing its messages to stderr: a library must not print.

    Pillow turns libtiff failures into exceptions but leaves libtiff's default handlers
    on, so a damaged TIFF would print lines such as "LZWDecode: Not enough data". Looking
    the functions up through Pillow's own extension finds exactly the libtiff it uses
    (bundled or system). Best effort: where libtiff is linked in statically (Windows
    wheels) the symbols are not visible and nothing changes.
    """
    try:
        imaging = ctypes.CDLL(Image.core.__file__)
        for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
            set_handler = getattr(imaging, name)
            set_handler.argtypes = [ctypes.c_void_p]
            set_handler.restype = ctypes.c_void_p
            set_handler(None)
    except (OSError, AttributeError, TypeError):
        pass


# Pillow's own bomb limit (`Image.MAX_IMAGE_PIXELS`, refusing at twice its value) is its
# host's choice and stays as the host set it: a file over it is refused like one over our
# `max_pixels` (see `_open`), whichever is lower.
# Pillow reports some damage through `logging` as well as by raising. Without a handler
# on its loggers, a program that never configured logging would print those records
# (logging's "last resort"); a program that did configure logging still receives them.
logging.getLogger("PIL").addHandler(logging.NullHandler())
_silence_libtiff()


@dataclass(frozen=True)
class Decoded:
    """An upright RGB image plus what the file said about itself before any draft scaling."""

    image: Image.Image
    format: str
    width: int
    height: int


def read_bytes(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, advice: LimitAdvice | None = None) -> bytes:
    """Read a file whole, refusing empty files, files over `max_bytes` and non-files
    (`advice`: what the refusal of a file too large tells its reader to do).

    Only regular files are opened: a named pipe would block forever and a device such
    as /dev/zero would never end.
    """
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise NotAnImage(path, "is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise NotAnImage(path, "not a regular file")
        if info.st_size > max_bytes:
            raise ImageTooLarge(path, info.st_size, max_bytes, unit="bytes", fix=_fix(advice, "bytes"))
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)  # the file may have grown since stat
    except (FileNotFoundError, NotADirectoryError):
        raise DecodeError(path, "no such file") from None
    except IsADirectoryError:
        raise NotAnImage(path, "is a directory") from None
    except OSError as exc:
        raise DecodeError(path, f"cannot read file ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise ImageTooLarge(path, len(data), max_bytes, unit="bytes", fix=_fix(advice, "bytes"))
    if not data:
        raise NotAnImage(path, "empty file")
    return data


def decode_image(
    data: bytes,
    source: str | Path = "<bytes>",
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    advice: LimitAdvice | None = None,
) -> Decoded:
    """Decode image bytes into an upright 8-bit RGB image.

    `min_side`: the caller needs no more than this many pixels on the short side, which
    lets JPEGs decode at 1/2, 1/4 or 1/8 scale. Raises a `DecodeError` subclass naming
    `source` for empty, non-image, corrupt, truncated, oversized or oddly shaped input
    (one side over `MAX_ASPECT` times the other); `advice` is what a refusal for size tells
    its reader to do (default: the Python API's `Settings.max_pixels`).
    """
    if not data:
        raise NotAnImage(source, "empty file")
    if is_raw(source):
        return _decode_raw(data, source, min_side, max_pixels, advice)
    # Pillow warns about odd metadata (corrupt EXIF, oversized tags); the file either
    # decodes or raises, and a library must not print.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _open(data, source, max_pixels, advice) as image:
            pixels = image.width * image.height  # from the header: nothing decoded yet
            if pixels > max_pixels:
                raise ImageTooLarge(source, pixels, max_pixels, fix=_fix(advice, "pixels"))
            if pixels == 0:
                raise CorruptImage(source, "image has no pixels")
            if max(image.size) > MAX_ASPECT * min(image.size):
                raise OddShape(source, image.width, image.height, MAX_ASPECT)
            try:
                return _decode(image, min_side)
            except _PILLOW_ERRORS as exc:
                raise CorruptImage(source, f"damaged or truncated image data ({exc})") from None


def pixel_digest(data: bytes, decoded: Decoded, source: str | Path = "<bytes>", *,
                 max_pixels: int = DEFAULT_MAX_PIXELS, advice: LimitAdvice | None = None) -> str | None:
    """SHA-256 of the image's decoded pixels: upright (EXIF orientation applied), 8-bit RGB,
    at full resolution, with its size. Two files with the same digest show the same picture
    pixel for pixel (a PNG re-save of a JPEG's pixels, another container, stripped
    metadata): `lookalike.scoring` calls that tier "exact". `decoded` is `data` decoded
    already; a draft-scaled JPEG (smaller than its full size) is decoded again in full.
    None for a camera RAW: its pixels are the demosaic's choice, not the file's, and a full
    demosaic would cost seconds per file."""
    if is_raw(source):
        return None
    image = decoded.image
    if image.size != (decoded.width, decoded.height):
        image = decode_image(data, source, max_pixels=max_pixels, advice=advice).image
    return digest_of_pixels(image)


def digest_of_pixels(image: Image.Image) -> str:
    """SHA-256 of an RGB image's size and pixel bytes (see `pixel_digest`)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def load_image(
    path: str | Path,
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    advice: LimitAdvice | None = None,
) -> Decoded:
    """Read and decode a file: `decode_image(read_bytes(path))`."""
    return decode_image(read_bytes(path, max_bytes, advice), path, min_side=min_side, max_pixels=max_pixels,
                        advice=advice)


@contextmanager
def pillow_allowing(max_pixels: int) -> Iterator[None]:
    """For a program that owns its process (the command line, the server): while inside,
    Pillow's own bomb limit (it refuses at twice `Image.MAX_IMAGE_PIXELS`) lets through every
    image `max_pixels` allows, so that the program's limit is the one in force and its
    users' option to raise it works. Restored on exit. Nothing is lowered; a library leaves
    Pillow's limit to its host (see `_open`)."""
    before = Image.MAX_IMAGE_PIXELS
    if before is not None and 2 * before < max_pixels:
        Image.MAX_IMAGE_PIXELS = -(-max_pixels // 2)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _fix(advice: LimitAdvice | None, unit: str) -> str | None:
    return advice.for_unit(unit) if advice is not None else None


def is_raw(source: str | Path) -> bool:
    """Whether a file's name says camera RAW (`scan.RAW_SUFFIXES`): decoded through rawpy."""
    return Path(str(source)).suffix.lower() in RAW_SUFFIXES


def _open(data: bytes, source: str | Path, max_pixels: int, advice: LimitAdvice | None = None) -> Image.Image:
    """Parse the header only. A known signature with a broken header is corrupt, not foreign."""
    missing = _enable_phone_formats() if _is_phone_format(data) else []
    try:
        return Image.open(io.BytesIO(data), formats=_FORMATS)
    except Image.DecompressionBombError as refusal:
        pixels = _claimed_pixels(refusal)
        if pixels > max_pixels:
            raise ImageTooLarge(source, pixels, max_pixels, fix=_fix(advice, "pixels")) from None
        raise ImageTooLarge(source, pixels, 2 * (Image.MAX_IMAGE_PIXELS or 0),
                            fix="Pillow's own limit: raise PIL.Image.MAX_IMAGE_PIXELS if you trust this file") from None
    except _PILLOW_ERRORS as exc:
        if missing:
            raise NotAnImage(source, f"HEIC and AVIF images need {' and '.join(missing)}: {_FORMATS_EXTRA}") from None
        if not _has_image_signature(data):
            raise NotAnImage(source, _KNOWN) from None
        detail = "" if isinstance(exc, UnidentifiedImageError) else f" ({exc})"
        raise CorruptImage(source, f"damaged image header{detail}") from None


def _claimed_pixels(refusal: Exception) -> int:
    """The pixel count a header claims, as Pillow's bomb check (which refused the file inside
    `Image.open`, before our own limit could look) states it; 0 if it says no number."""
    found = re.search(r"\((\d+) pixels\)", str(refusal))
    return int(found.group(1)) if found else 0


def _has_image_signature(data: bytes) -> bool:
    return data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP") or _is_phone_format(data)


def _is_phone_format(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _PHONE_BRANDS


def _enable_phone_formats() -> list[str]:
    """Register the HEIF and AVIF readers with Pillow, if installed and not registered yet
    (Pillow's registry is process-wide: the first HEIC or AVIF file does it); returns the
    packages missing for them. pillow-heif applies a HEIC's own rotation (`irot`) and resets
    its EXIF orientation to 1, so `_decode` does not turn it twice."""
    Image.init()
    missing = []
    if "HEIF" not in Image.OPEN:
        try:
            from pillow_heif import register_heif_opener
        except ImportError:
            missing.append("pillow-heif")
        else:
            register_heif_opener(thumbnails=False)
    if "AVIF" not in Image.OPEN:  # Pillow reads AVIF itself from 11.3 on
        try:
            import pillow_avif  # noqa: F401  (registers itself)
        except ImportError:
            missing.append("Pillow 11.3 or later (or pillow-avif-plugin)")
    return missing


def _decode_raw(data: bytes, source: str | Path, min_side: int | None, max_pixels: int,
                advice: LimitAdvice | None) -> Decoded:
    """A camera RAW file, upright as the camera held it: its embedded preview when that is
    large enough for `min_side` (no `min_side`: the full picture is wanted, so never), else
    demosaiced with the camera's white balance, at half size when that still keeps
    `min_side`. The reported size is the RAW's full upright size, as for a drafted JPEG."""
    try:
        import rawpy
    except ImportError:
        raise NotAnImage(source, f"camera RAW files need rawpy: {_FORMATS_EXTRA}") from None
    kind = Path(str(source)).suffix.lstrip(".").upper()
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            width, height, flip = raw.sizes.width, raw.sizes.height, raw.sizes.flip
            if width * height > max_pixels:
                raise ImageTooLarge(source, width * height, max_pixels, fix=_fix(advice, "pixels"))
            if width * height == 0:
                raise CorruptImage(source, "RAW image has no pixels")
            upright = (height, width) if flip in (5, 6) else (width, height)
            preview = _raw_preview(raw, rawpy, source, upright, flip, min_side, max_pixels, advice) if min_side else None
            if preview is not None:
                return Decoded(preview, kind, *upright)
            half = bool(min_side) and min(width, height) // 2 >= (min_side or 0)
            developed = raw.postprocess(use_camera_wb=True, output_bps=8, half_size=half)
    except rawpy.LibRawFileUnsupportedError:
        raise NotAnImage(source, "not a camera RAW file LibRaw can read") from None
    except rawpy.LibRawIOError:  # LibRaw read past the end: garbage or a truncated file
        raise CorruptImage(source, "not a camera RAW file, or a truncated one (LibRaw read past its end)") from None
    except (rawpy.LibRawError, rawpy.NotSupportedError, *_PILLOW_ERRORS) as exc:
        raise CorruptImage(source, f"damaged RAW data ({_libraw_message(exc)})") from None
    return Decoded(Image.fromarray(developed).convert("RGB"), kind, *upright)


def _raw_preview(raw: Any, rawpy: Any, source: str | Path, upright: tuple[int, int], flip: int,
                 min_side: int, max_pixels: int, advice: LimitAdvice | None) -> Image.Image | None:
    """The RAW's embedded preview, upright, if it shows the whole picture with a short side
    of at least `min_side`; decoded under the same limits as any image (`raw`: the open
    rawpy file, `rawpy`: the module, imported on first need)."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        image = decode_image(thumb.data, source=f"{source} (preview)", max_pixels=max_pixels, advice=advice).image
    else:
        image = Image.fromarray(np.asarray(thumb.data, dtype=np.uint8)).convert("RGB")
    turn = _RAW_FLIP.get(flip)
    if turn is not None and not (flip in (5, 6) and _landscape(image.size) == _landscape(upright)):
        image = image.transpose(turn)  # LibRaw's previews are stored as the sensor saw them
    aspect, wanted = image.width / image.height, upright[0] / upright[1]
    if abs(aspect - wanted) > _PREVIEW_ASPECT_TOLERANCE * wanted or min(image.size) < min_side:
        return None
    return image


def _libraw_message(exc: Exception) -> str:
    message = exc.args[0] if exc.args else exc
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


def _landscape(size: tuple[int, int]) -> bool:
    return size[0] >= size[1]


def _decode(image: Image.Image, min_side: int | None) -> Decoded:
    """Decode the first frame (where Image.open leaves every file) upright, as RGB.

    The reported size is the full upright size. Without draft scaling that is simply the
    size of the upright result; Pillow's TIFF reader already applies the orientation
    itself, so guessing from the header would rotate TIFFs twice.
    """
    header_size = image.size
    drafted = _draft_jpeg(image, min_side)
    image.load()
    orientation = image.getexif().get(_ORIENTATION)
    transpose = _TRANSPOSE_FOR_ORIENTATION.get(orientation) if isinstance(orientation, int) else None
    upright = image.transpose(transpose) if transpose is not None else image
    width, height = upright.size
    if drafted:  # JPEG only, which Pillow never rotates: rotate the header size ourselves
        width, height = header_size[::-1] if orientation in (5, 6, 7, 8) else header_size
    rgb = _to_rgb(upright)
    if rgb is image:  # a copy, so the result doesn't keep the file (and its bytes) open
        rgb = image.copy()
    return Decoded(rgb, "JPEG" if image.format == "MPO" else image.format or "unknown", width, height)


def _draft_jpeg(image: Image.Image, min_side: int | None) -> bool:
    """Ask libjpeg for the smallest DCT scale (1/8, 1/4, 1/2) keeping the short side >= min_side.

    libjpeg rounds scaled sides up, so `side // scale` is a safe lower bound. MPO files
    (camera JPEGs with extra pictures) are JPEGs here too.
    """
    if not min_side or min_side < 1 or not isinstance(image, JpegImageFile):
        return False
    width, height = image.size
    for scale in (8, 4, 2):
        if min(width, height) // scale >= min_side:
            image.draft(image.mode, (width // scale, height // scale))
            return image.size != (width, height)
    return False


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if "transparency" in image.info and mode in ("P", "1", "L", "RGB"):
        # a transparent palette index or colour key (PNG tRNS, GIF): flatten like alpha
        return _flatten_on_white(image.convert("RGBA"))
    if mode == "RGB":
        return image
    if mode in ("RGBA", "LA", "PA", "RGBa"):
        return _flatten_on_white(image.convert("RGBA"))
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_rgb(image)
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV, RGBX


def _flatten_on_white(image: Image.Image) -> Image.Image:
    background = Image.new("RGB", image.size, _WHITE)
    background.paste(image, mask=image.getchannel("A"))
    return background


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey: scale the type's full range to 0..255 (not the image's own range).

    Float images are taken as 0..1 when they fit, else as 0..255; NaN becomes black.
    """
    array = np.asarray(image)
    if image.mode == "F":
        array = np.nan_to_num(array, nan=0.0)
        scaled = np.clip(array, 0.0, 1.0) * 255.0 if array.max(initial=0) <= 1.0 else np.clip(array, 0, 255)
    elif image.mode.startswith("I;16") or array.max(initial=0) <= 65535:
        scaled = np.clip(array, 0, 65535) / 257.0
    else:
        scaled = np.clip(array, 0, 2**32 - 1) / 16843009.0
    grey = Image.fromarray(np.round(scaled).astype(np.uint8))  # 2-D uint8: mode L
    return grey.convert("RGB")

"""Seeded malformed, odd-shaped and hostile files for the fuzz tests (tests/test_fuzz.py).

Each `Case` says what lookalike must do with it: "valid" files must be indexed, "bad" ones
refused with a reason naming the file, and "either" ones (truncated or bit-flipped copies
of valid files, which may still decode) indexed or refused, never lost or crashed on.
Everything is made from scikit-image's real photos with Pillow, in memory, in seconds.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Callable, Literal

from PIL import Image

from lookalike.demo import sample_image

Expect = Literal["valid", "bad", "either"]
PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket")


@dataclass(frozen=True)
class Case:
    name: str  # a file name: number, kind and the extension the file claims
    data: bytes
    expect: Expect


def hostile_files(seed: int = 20261203, count: int = 520) -> list[Case]:
    """`count` cases, the same ones for the same seed."""
    rng = random.Random(seed)
    photos = [sample_image(name).convert("RGB") for name in PHOTOS]
    makers: list[tuple[int, Callable[[random.Random, list[Image.Image]], tuple[str, bytes, Expect]]]] = [
        (30, _valid_photo), (6, _valid_odd_shape), (4, _valid_odd_mode), (2, _valid_animation),
        (2, _valid_with_big_metadata), (2, _valid_wrong_extension),
        (12, _truncated), (10, _bit_flipped),
        (6, _not_an_image), (4, _too_thin), (3, _bomb_header), (3, _broken_header),
    ]
    kinds = [maker for weight, maker in makers for _ in range(weight)]
    cases = [Case("000-real-bomb.png", _real_png_bomb(), "bad")]
    for number in range(1, count):
        kind, data, expect = rng.choice(kinds)(rng, photos)
        cases.append(Case(f"{number:03d}-{kind}", data, expect))
    return cases


# --- valid files -----------------------------------------------------------------------------

_FORMATS = (("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp"), ("GIF", ".gif"), ("BMP", ".bmp"),
            ("TIFF", ".tif"))


def _resized(rng: random.Random, photos: list[Image.Image], low: int = 16, high: int = 320) -> Image.Image:
    photo = rng.choice(photos)
    return photo.resize((rng.randint(low, high), rng.randint(low, high)))


def _encode(image: Image.Image, fmt: str, rng: random.Random | None = None, **params) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG" and rng is not None:
        params.setdefault("quality", rng.randint(5, 98))
        params.setdefault("progressive", rng.random() < 0.3)
        if rng.random() < 0.3:
            exif = Image.Exif()
            exif[0x0112] = rng.choice((1, 3, 6, 8, 2, 0, 9, 255))  # orientation, some bogus
            params["exif"] = exif.tobytes()
    if fmt == "WEBP" and rng is not None:
        params.setdefault("lossless", rng.random() < 0.3)
    if fmt == "TIFF" and rng is not None:
        params.setdefault("compression", rng.choice(("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits")))
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _valid_photo(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    fmt, suffix = rng.choice(_FORMATS)
    return f"photo{suffix}", _encode(_resized(rng, photos), fmt, rng), "valid"


def _valid_odd_shape(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    width, height = rng.choice(((1, 1), (1, 100), (100, 1), (2, 3), (3, 299), (640, 7), (1, 2)))
    fmt, suffix = rng.choice(_FORMATS)
    return f"shape-{width}x{height}{suffix}", _encode(rng.choice(photos).resize((width, height)), fmt, rng), "valid"


def _valid_odd_mode(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    image = _resized(rng, photos)
    mode, fmt, suffix = rng.choice((("RGBA", "PNG", ".png"), ("LA", "PNG", ".png"), ("P", "PNG", ".png"),
                                    ("1", "PNG", ".png"), ("I;16", "PNG", ".png"), ("CMYK", "JPEG", ".jpg"),
                                    ("L", "JPEG", ".jpg"), ("CMYK", "TIFF", ".tif"), ("F", "TIFF", ".tif"),
                                    ("RGBA", "WEBP", ".webp"), ("P", "GIF", ".gif"), ("1", "BMP", ".bmp")))
    converted = image.convert("L").convert(mode) if mode in ("I;16", "F") else image.convert(mode)
    return f"mode-{mode.replace(';', '')}{suffix}", _encode(converted, fmt), "valid"


def _valid_animation(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    frames = [_resized(rng, photos, 32, 96).resize((64, 48)) for _ in range(rng.randint(2, 40))]
    fmt, suffix = rng.choice((("GIF", ".gif"), ("PNG", ".png"), ("WEBP", ".webp")))
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=40, loop=0)
    return f"animated{suffix}", buffer.getvalue(), "valid"


def _valid_with_big_metadata(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "x" * rng.randint(10_000, 500_000))
    return "metadata.png", _encode(_resized(rng, photos), "PNG", pnginfo=info), "valid"


def _valid_wrong_extension(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    fmt, _ = rng.choice(_FORMATS)
    return "misnamed.jpg" if fmt != "JPEG" else "misnamed.png", _encode(_resized(rng, photos), fmt, rng), "valid"


# --- damaged copies of valid files ------------------------------------------------------------

def _truncated(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    name, data, _ = _valid_photo(rng, photos)
    return f"truncated-{name}", data[: rng.randint(1, max(1, len(data) - 1))], "either"


def _bit_flipped(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    name, data, _ = _valid_photo(rng, photos)
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 30)):
        damaged[rng.randrange(len(damaged))] = rng.randrange(256)
    return f"flipped-{name}", bytes(damaged), "either"


# --- files that must be refused ------------------------------------------------------------------

def _not_an_image(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    choices = (
        ("empty.jpg", b""),
        ("one-byte.png", b"\x89"),
        ("random.jpg", rng.randbytes(rng.randint(2, 5000))),
        ("text.png", b"hello, this is not a picture\n" * rng.randint(1, 50)),
        ("page.jpg", b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"),
        ("drawing.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'),
        ("document.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n"),
        ("archive.png", b"PK\x03\x04" + rng.randbytes(200)),
        ("program.gif", b"\x7fELF\x02\x01\x01" + bytes(100)),
        ("zeros.bmp", bytes(rng.randint(1, 10_000))),
    )
    name, data = rng.choice(choices)
    return f"not-image-{name}", data, "bad"


def _too_thin(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    width, height = rng.choice(((1, 5000), (5000, 1), (1, 101), (2, 250), (3, 3000)))
    fmt, suffix = rng.choice((("PNG", ".png"), ("GIF", ".gif"), ("BMP", ".bmp"), ("TIFF", ".tif")))
    return f"thin-{width}x{height}{suffix}", _encode(Image.new("RGB", (width, height), (90, 20, 200)), fmt), "bad"


def _bomb_header(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    """A small file whose header claims billions of pixels."""
    side = rng.choice((20_000, 65_000, 2**31 - 1))
    kind = rng.choice(("png", "gif", "bmp", "jpeg"))
    if kind == "png":
        header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
        idat = zlib.compress(bytes(10_000))
        data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    elif kind == "gif":
        side = min(side, 65_535)
        data = b"GIF89a" + struct.pack("<HH", side, side) + b"\x00\x00\x00" + b",\x00\x00\x00\x00" + \
            struct.pack("<HH", side, side) + b"\x00\x02\x02\x44\x01\x00;"
    elif kind == "bmp":
        data = b"BM" + struct.pack("<IHHI", 1000, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, 0,
                                                                          0, 0, 0, 0) + bytes(100)
    else:
        side = min(side, 65_500)
        small = _encode(_resized(rng, photos, 16, 32), "JPEG", quality=80)
        sof = small.index(b"\xff\xc0")
        data = small[: sof + 5] + struct.pack(">HH", side, side) + small[sof + 9 :]
    return f"bomb-{kind}-{side}.{ 'jpg' if kind == 'jpeg' else kind}", data, "bad"


def _broken_header(rng: random.Random, photos: list[Image.Image]) -> tuple[str, bytes, Expect]:
    kind, suffix, data = rng.choice((
        ("jpeg-junk", ".jpg", b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randint(0, 300))),
        ("png-signature", ".png", b"\x89PNG\r\n\x1a\n"),
        ("gif-header", ".gif", b"GIF89a\x10\x00"),
        ("tiff-header", ".tif", b"II*\x00\x08\x00\x00\x00" + rng.randbytes(6)),
        ("webp-riff", ".webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + rng.randbytes(8)),
    ))
    return f"broken-{kind}{suffix}", data, "bad"


def _png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def _real_png_bomb() -> bytes:
    """A real 15,000 x 15,000 picture (225 MP, over the 180 MP limit) in ~30 kB of PNG."""
    buffer = io.BytesIO()
    Image.new("1", (15_000, 15_000), 1).save(buffer, "PNG")
    return buffer.getvalue()

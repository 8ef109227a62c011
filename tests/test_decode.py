"""The safe loader, tested with real photos in every supported format and with broken files.

Images are built from scikit-image's bundled photos and written with Pillow (or, where
Pillow can't write what we need, with the tiny PNG writer below) into tmp_path.
"""

from __future__ import annotations

import io
import os
import random
import resource
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from skimage import data as skdata

from lookalike.decode import Decoded, decode_image, load_image, pillow_allowing, read_bytes
from lookalike.errors import CorruptImage, DecodeError, ImageTooLarge, NotAnImage

# Any warning escaping the library fails the test that caused it.
pytestmark = pytest.mark.filterwarnings("error")


# --------------------------------------------------------------------------- helpers


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def mean_abs_diff(a, b) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


def assert_rgb8(decoded: Decoded, width: int, height: int) -> None:
    assert isinstance(decoded, Decoded)
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (width, height)
    assert (decoded.width, decoded.height) == (width, height)


def png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def png_bytes(width: int, height: int, idat: bytes, *, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    """A PNG written by hand: lets a header claim any size and allows modes Pillow can't write."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_from_rows(array: np.ndarray, *, bit_depth: int, colour_type: int) -> bytes:
    """Unfiltered scanlines (filter byte 0) of a big-endian array, compressed."""
    height, width = array.shape[:2]
    rows = array.reshape(height, -1).astype(">u2" if bit_depth == 16 else np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    return png_bytes(width, height, zlib.compress(raw), bit_depth=bit_depth, colour_type=colour_type)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def chelsea() -> Image.Image:
    return Image.fromarray(skdata.chelsea())  # 451 x 300, RGB


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut())  # 512 x 512, RGB


@pytest.fixture(scope="session")
def small(chelsea) -> Image.Image:
    """Asymmetric and small: good for orientation checks and fuzzing."""
    return chelsea.crop((100, 40, 340, 200)).resize((60, 40), Image.Resampling.BILINEAR)


@pytest.fixture(scope="session")
def big_jpeg(tmp_path_factory, astronaut) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    astronaut.resize((4000, 3000), Image.Resampling.BILINEAR).save(path, "JPEG", quality=85)
    return path


# --------------------------------------------------------------------------- every format


ROUND_TRIPS = [
    # (id, Pillow format, save params, suffix, mean-abs-diff tolerance, reported format)
    ("jpeg", "JPEG", {"quality": 95}, ".jpg", 3.0, "JPEG"),
    ("jpeg-progressive", "JPEG", {"quality": 90, "progressive": True}, ".jpg", 4.0, "JPEG"),
    ("png", "PNG", {}, ".png", 0.0, "PNG"),
    ("webp-lossless", "WEBP", {"lossless": True}, ".webp", 0.0, "WEBP"),
    ("webp-lossy", "WEBP", {"quality": 90}, ".webp", 5.0, "WEBP"),
    ("gif", "GIF", {}, ".gif", 12.0, "GIF"),
    ("bmp", "BMP", {}, ".bmp", 0.0, "BMP"),
    ("tiff-raw", "TIFF", {}, ".tif", 0.0, "TIFF"),
    ("tiff-lzw", "TIFF", {"compression": "tiff_lzw"}, ".tiff", 0.0, "TIFF"),
    ("tiff-deflate", "TIFF", {"compression": "tiff_deflate"}, ".tif", 0.0, "TIFF"),
    ("tiff-jpeg", "TIFF", {"compression": "jpeg", "quality": 95}, ".tif", 4.0, "TIFF"),
]


@pytest.mark.parametrize(
    "fmt, params, suffix, tolerance, reported",
    [case[1:] for case in ROUND_TRIPS],
    ids=[case[0] for case in ROUND_TRIPS],
)
def test_every_format_round_trips_to_rgb(tmp_path, chelsea, fmt, params, suffix, tolerance, reported):
    path = write(tmp_path / f"chelsea{suffix}", encode(chelsea, fmt, **params))

    decoded = load_image(path)

    assert_rgb8(decoded, 451, 300)
    assert decoded.format == reported
    assert not isinstance(decoded.image, ImageFile.ImageFile)  # detached from the file
    assert mean_abs_diff(decoded.image, chelsea) <= tolerance
    # channel means and a few single pixels, so a channel swap or a shift would show
    np.testing.assert_allclose(
        pixels(decoded.image).mean(axis=(0, 1)), pixels(chelsea).mean(axis=(0, 1)), atol=max(tolerance, 0.5)
    )
    for x, y in [(0, 0), (225, 150), (450, 299), (100, 250)]:
        np.testing.assert_allclose(
            decoded.image.getpixel((x, y)), chelsea.getpixel((x, y)), atol=8 * tolerance + 1
        )


def test_decode_image_and_load_image_agree(tmp_path, chelsea):
    data = encode(chelsea, "PNG")
    from_bytes = decode_image(data, "chelsea.png")
    from_file = load_image(write(tmp_path / "c.png", data))
    assert from_bytes.format == from_file.format == "PNG"
    assert np.array_equal(np.asarray(from_bytes.image), np.asarray(from_file.image))


def test_grey_jpeg_and_png_become_rgb_with_equal_channels(chelsea):
    grey = chelsea.convert("L")
    for fmt in ("JPEG", "PNG"):
        image = decode_image(encode(grey, fmt), f"grey.{fmt}").image
        assert image.mode == "RGB"
        array = np.asarray(image)
        assert (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all()
        assert mean_abs_diff(image.getchannel(0), grey) < 3


def opened_mode(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as image:
        return image.mode


def test_apng_gives_the_default_image(small):
    other = Image.new("RGB", small.size, (0, 0, 255))
    data = encode(small, "PNG", save_all=True, append_images=[other])
    decoded = decode_image(data, "anim.png")
    assert_rgb8(decoded, *small.size)
    assert mean_abs_diff(decoded.image, small) == 0


# --------------------------------------------------------------------------- first frame


def test_animated_gif_gives_first_frame(tmp_path):
    red = Image.new("RGB", (40, 30), (255, 0, 0))
    blue = Image.new("RGB", (40, 30), (0, 0, 255))
    path = tmp_path / "anim.gif"
    red.save(path, save_all=True, append_images=[blue], duration=100, loop=0)
    with Image.open(path) as check:
        assert check.n_frames == 2

    decoded = load_image(path)

    assert_rgb8(decoded, 40, 30)
    assert decoded.image.getpixel((20, 15)) == (255, 0, 0)
    assert (np.asarray(decoded.image) == (255, 0, 0)).all()


def test_animated_webp_gives_first_frame(tmp_path):
    green = Image.new("RGB", (40, 30), (0, 200, 0))
    blue = Image.new("RGB", (40, 30), (0, 0, 255))
    path = tmp_path / "anim.webp"
    green.save(path, save_all=True, append_images=[blue], duration=100, lossless=True)

    decoded = load_image(path)

    assert_rgb8(decoded, 40, 30)
    assert decoded.image.getpixel((5, 5)) == (0, 200, 0)


def test_multipage_tiff_gives_first_page(tmp_path, small):
    second = Image.new("RGB", (20, 20), (0, 0, 255))
    path = tmp_path / "pages.tif"
    small.save(path, save_all=True, append_images=[second])
    with Image.open(path) as check:
        assert check.n_frames == 2

    decoded = load_image(path)

    assert_rgb8(decoded, *small.size)
    assert mean_abs_diff(decoded.image, small) == 0


def test_mpo_gives_first_picture_as_jpeg(tmp_path, astronaut):
    """Cameras write MPO (JPEG + extra pictures); Pillow calls it 'MPO'."""
    second = Image.new("RGB", astronaut.size, (0, 0, 255))
    path = tmp_path / "camera.jpg"
    astronaut.save(path, "MPO", save_all=True, append_images=[second], quality=95)

    decoded = load_image(path)

    assert_rgb8(decoded, 512, 512)
    assert decoded.format == "JPEG"
    assert mean_abs_diff(decoded.image, astronaut) < 4
    small = load_image(path, min_side=64)  # draft mode works for MPO too
    assert (small.width, small.height) == (512, 512)
    assert 64 <= min(small.image.size) < 512


# --------------------------------------------------------------------------- EXIF orientation


def upright_from_stored(stored: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for each EXIF orientation (independent of Pillow's table)."""
    return {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],  # mirrored horizontally
        3: lambda a: np.rot90(a, 2),
        4: lambda a: a[::-1, :],  # mirrored vertically
        5: lambda a: a.transpose(1, 0, 2),  # mirrored along the main diagonal
        6: lambda a: np.rot90(a, -1),  # rotate 90 clockwise to view
        7: lambda a: np.rot90(a.transpose(1, 0, 2), 2),  # anti-diagonal
        8: lambda a: np.rot90(a, 1),  # rotate 90 counter-clockwise to view
    }[orientation](stored)


def with_orientation(image: Image.Image, fmt: str, orientation: int, **params) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, fmt, exif=exif.tobytes(), **params)


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_is_applied_to_jpeg(small, orientation):
    stored = small.resize((120, 80))
    expected = upright_from_stored(np.asarray(stored), orientation)

    decoded = decode_image(with_orientation(stored, "JPEG", orientation, quality=95), "o.jpg")

    height, width = expected.shape[:2]
    assert_rgb8(decoded, width, height)
    assert np.abs(pixels(decoded.image) - expected).mean() < 4


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", [6, 5])
def test_exif_orientation_is_applied_to_other_formats(small, fmt, orientation):
    params = {"lossless": True} if fmt == "WEBP" else {}
    expected = upright_from_stored(np.asarray(small), orientation)

    decoded = decode_image(with_orientation(small, fmt, orientation, **params), f"o.{fmt}")

    assert_rgb8(decoded, 40, 60)
    assert np.abs(pixels(decoded.image) - expected).mean() < 1


def test_bogus_orientation_value_is_ignored(small):
    decoded = decode_image(with_orientation(small, "JPEG", 42, quality=95), "o.jpg")
    assert_rgb8(decoded, 60, 40)


# --------------------------------------------------------------------------- modes


def split_alpha_image(mode: str, colour) -> Image.Image:
    """Left third transparent, middle third half transparent, right third opaque."""
    image = Image.new(mode, (60, 20), colour)
    alpha = Image.new("L", (60, 20), 255)
    alpha.paste(0, (0, 0, 20, 20))
    alpha.paste(128, (20, 0, 40, 20))
    image.putalpha(alpha)
    return image


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_rgba_is_flattened_on_white(fmt):
    params = {"lossless": True} if fmt == "WEBP" else {}
    image = split_alpha_image("RGB", (200, 0, 0))
    decoded = decode_image(encode(image, fmt, **params), f"rgba.{fmt}")
    assert_rgb8(decoded, 60, 20)
    assert decoded.image.getpixel((5, 10)) == (255, 255, 255)
    np.testing.assert_allclose(decoded.image.getpixel((30, 10)), (227, 127, 127), atol=2)
    assert decoded.image.getpixel((55, 10)) == (200, 0, 0)


def test_la_png_is_flattened_on_white():
    image = split_alpha_image("L", 0)
    decoded = decode_image(encode(image, "PNG"), "la.png")
    assert opened_mode(encode(image, "PNG")) == "LA"
    assert decoded.image.getpixel((5, 10)) == (255, 255, 255)
    np.testing.assert_allclose(decoded.image.getpixel((30, 10)), (127, 127, 127), atol=2)
    assert decoded.image.getpixel((55, 10)) == (0, 0, 0)


def palette_image_with_transparent_index() -> Image.Image:
    image = Image.new("P", (40, 20), 1)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * (3 * 254))  # 0: red (transparent), 1: blue
    image.paste(0, (0, 0, 20, 20))
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparent_index_becomes_white(fmt):
    data = encode(palette_image_with_transparent_index(), fmt, transparency=0)
    decoded = decode_image(data, f"p.{fmt}")
    assert_rgb8(decoded, 40, 20)
    assert decoded.image.getpixel((5, 5)) == (255, 255, 255)
    assert decoded.image.getpixel((35, 5)) == (0, 0, 255)


def test_palette_png_with_several_alpha_levels():
    image = palette_image_with_transparent_index()
    # tRNS with an alpha per index: index 0 fully transparent, index 1 half transparent
    data = encode(image, "PNG", transparency=bytes([0, 128]))
    decoded = decode_image(data, "p.png")
    assert decoded.image.getpixel((5, 5)) == (255, 255, 255)
    np.testing.assert_allclose(decoded.image.getpixel((35, 5)), (127, 127, 255), atol=2)


@pytest.mark.parametrize("mode, colour_key", [("L", 7), ("RGB", (1, 2, 3))])
def test_png_colour_key_transparency_becomes_white(mode, colour_key):
    """A grey or RGB PNG can mark one colour transparent (tRNS): flatten like alpha."""
    image = Image.new(mode, (40, 20), colour_key)
    image.paste(0 if mode == "L" else (0, 0, 0), (20, 0, 40, 20))
    decoded = decode_image(encode(image, "PNG", transparency=colour_key), "key.png")
    assert decoded.image.getpixel((5, 5)) == (255, 255, 255)
    assert decoded.image.getpixel((35, 5)) == (0, 0, 0)


def test_palette_without_transparency(chelsea):
    palette = chelsea.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    decoded = decode_image(encode(palette, "PNG"), "p.png")
    assert mean_abs_diff(decoded.image, palette.convert("RGB")) == 0


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_is_converted(chelsea, fmt):
    cmyk = chelsea.convert("CMYK")
    data = encode(cmyk, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    assert opened_mode(data) == "CMYK"

    decoded = decode_image(data, f"cmyk.{fmt}")

    assert_rgb8(decoded, 451, 300)
    assert mean_abs_diff(decoded.image, chelsea) < 4


def test_cmyk_jpeg_draft_mode(chelsea):
    data = encode(chelsea.resize((1200, 800)).convert("CMYK"), "JPEG", quality=90)
    decoded = decode_image(data, "cmyk.jpg", min_side=100)
    assert (decoded.width, decoded.height) == (1200, 800)
    assert decoded.image.mode == "RGB"
    assert 100 <= min(decoded.image.size) < 800


def test_16bit_grey_png_is_scaled_by_full_range():
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16).repeat(3, axis=0)
    data = encode(Image.fromarray(values), "PNG")
    assert opened_mode(data) in ("I;16", "I")

    decoded = decode_image(data, "deep.png")

    assert_rgb8(decoded, 4, 3)
    greys = [decoded.image.getpixel((x, 1)) for x in range(4)]
    assert greys == [(0, 0, 0), (1, 1, 1), (128, 128, 128), (255, 255, 255)]


def test_16bit_grey_png_with_small_values_is_dark_not_stretched():
    """Full-range scaling: a dim 16-bit image stays dim (no per-image normalisation)."""
    values = np.array([[0, 1000, 2000]], dtype=np.uint16)
    decoded = decode_image(png_from_rows(values, bit_depth=16, colour_type=0), "dim.png")
    assert [decoded.image.getpixel((x, 0))[0] for x in range(3)] == [0, 4, 8]


def test_16bit_grey_tiff_is_scaled_by_full_range():
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    decoded = decode_image(encode(Image.fromarray(values), "TIFF"), "deep.tif")
    assert [decoded.image.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128,) * 3, (255,) * 3]


def test_16bit_rgb_png_is_reduced_to_8bit():
    values = np.zeros((2, 3, 3), dtype=np.uint16)
    values[0, 0] = (65535, 0, 32768)
    values[1, 2] = (0, 65535, 65535)
    decoded = decode_image(png_from_rows(values, bit_depth=16, colour_type=2), "deep-rgb.png")
    assert_rgb8(decoded, 3, 2)
    assert decoded.image.getpixel((0, 0)) == (255, 0, 128)
    assert decoded.image.getpixel((2, 1)) == (0, 255, 255)


def test_32bit_int_tiff_uses_16bit_scale_when_values_fit():
    values = np.array([[0, 32768, 65535]], dtype=np.int32)
    decoded = decode_image(encode(Image.fromarray(values), "TIFF"), "int.tif")
    assert [decoded.image.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "GIF"])
def test_1bit_image(fmt):
    checker = Image.fromarray((np.indices((16, 24)).sum(axis=0) % 2 * 255).astype(np.uint8)).convert("1")
    decoded = decode_image(encode(checker, fmt), f"bits.{fmt}")
    assert_rgb8(decoded, 24, 16)
    assert decoded.image.getpixel((0, 0)) == (0, 0, 0)
    assert decoded.image.getpixel((1, 0)) == (255, 255, 255)


def test_float_tiff_in_unit_range_is_scaled():
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    data = encode(Image.fromarray(values), "TIFF")
    assert opened_mode(data) == "F"
    decoded = decode_image(data, "float.tif")
    assert [decoded.image.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


def test_float_tiff_with_nan_and_infinity_decodes_quietly():
    values = np.array([[np.nan, -np.inf, np.inf, 300.0, 100.0]], dtype=np.float32)
    decoded = decode_image(encode(Image.fromarray(values), "TIFF"), "float.tif")
    assert [decoded.image.getpixel((x, 0))[0] for x in range(5)] == [0, 0, 255, 255, 100]


def test_8bit_palette_and_bitfield_bmps(chelsea):
    palette = chelsea.convert("P", palette=Image.Palette.ADAPTIVE, colors=200)
    decoded = decode_image(encode(palette, "BMP"), "p.bmp")
    assert mean_abs_diff(decoded.image, palette.convert("RGB")) == 0
    rgba = chelsea.convert("RGBA")  # Pillow writes 32-bit BMPs with alpha bitfields
    decoded = decode_image(encode(rgba, "BMP"), "rgba.bmp")
    assert mean_abs_diff(decoded.image, chelsea) == 0


# --------------------------------------------------------------------------- draft mode


def test_large_jpeg_is_drafted_when_a_small_side_is_enough(big_jpeg, astronaut):
    decoded = load_image(big_jpeg, min_side=256)

    assert (decoded.width, decoded.height) == (4000, 3000)  # what the file holds
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (500, 375)  # 1/8 scale: the short side stays >= 256
    full = astronaut.resize((4000, 3000), Image.Resampling.BILINEAR)
    reference = full.resize((500, 375), Image.Resampling.BOX)
    assert mean_abs_diff(decoded.image, reference) < 6

    assert_rgb8(load_image(big_jpeg), 4000, 3000)  # and without min_side: full size


@pytest.mark.parametrize("min_side, expected", [(1500, (2000, 1500)), (750, (1000, 750)), (374, (500, 375))])
def test_draft_picks_the_smallest_scale_that_keeps_min_side(big_jpeg, min_side, expected):
    decoded = load_image(big_jpeg, min_side=min_side)
    assert decoded.image.size == expected
    assert (decoded.width, decoded.height) == (4000, 3000)


@pytest.mark.parametrize("min_side", [1501, 3000, 5000, 0, -1, None])
def test_no_draft_when_half_size_is_too_small_or_min_side_is_unset(big_jpeg, min_side):
    decoded = load_image(big_jpeg, min_side=min_side)
    assert_rgb8(decoded, 4000, 3000)


@pytest.mark.parametrize(
    "size, min_side",
    [
        ((1001, 777), 97),
        ((777, 1001), 97),
        ((640, 480), 60),
        ((641, 481), 60),
        ((2049, 300), 37),
        ((300, 2049), 37),
    ],
)
def test_draft_never_goes_below_min_side(astronaut, size, min_side):
    data = encode(astronaut.resize(size), "JPEG", quality=80)
    decoded = decode_image(data, "odd.jpg", min_side=min_side)
    assert (decoded.width, decoded.height) == size
    assert min(decoded.image.size) >= min_side
    assert min(decoded.image.size) < min(size)  # it did shrink


def test_draft_with_orientation_reports_upright_full_size(astronaut):
    data = with_orientation(astronaut.resize((1600, 1200)), "JPEG", 6, quality=85)
    decoded = decode_image(data, "portrait.jpg", min_side=200)
    assert (decoded.width, decoded.height) == (1200, 1600)
    width, height = decoded.image.size
    assert height > width >= 200 and height < 1600


def test_png_ignores_min_side(astronaut):
    decoded = decode_image(encode(astronaut, "PNG"), "a.png", min_side=32)
    assert_rgb8(decoded, 512, 512)
    assert mean_abs_diff(decoded.image, astronaut) == 0


# --------------------------------------------------------------------------- size limits


def assert_refused_quickly(call, limit_seconds: float = 2.0, limit_mb: float = 100.0) -> ImageTooLarge:
    rss_before = max_rss_mb()
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge) as info:
        call()
    assert time.perf_counter() - start < limit_seconds
    assert max_rss_mb() - rss_before < limit_mb
    return info.value


@pytest.fixture(scope="module")
def real_png_bomb() -> bytes:
    """A valid 20000 x 20000 1-bit PNG (all black): 400 M pixels in ~60 kB."""
    side = 20000
    row = b"\x00" * (1 + side // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return png_bytes(side, side, idat, bit_depth=1, colour_type=0)


def test_real_png_bomb_is_refused_from_the_header(tmp_path, real_png_bomb):
    path = write(tmp_path / "bomb.png", real_png_bomb)
    assert path.stat().st_size < 1_000_000
    error = assert_refused_quickly(lambda: load_image(path))
    assert error.size == 400_000_000 and error.unit == "pixels"
    assert str(path) in str(error)


def test_png_header_claiming_30000x30000_is_refused(tmp_path):
    data = png_bytes(30000, 30000, zlib.compress(b"\x00" * 30001))
    path = write(tmp_path / "liar.png", data)
    error = assert_refused_quickly(lambda: load_image(path))
    assert (error.size, error.limit) == (900_000_000, 180_000_000)


def test_jpeg_header_claiming_a_huge_size_is_refused(small):
    data = bytearray(encode(small, "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    error = assert_refused_quickly(lambda: decode_image(bytes(data), "huge.jpg"))
    assert error.size == 3_600_000_000


def test_bmp_header_claiming_a_huge_size_is_refused(small):
    data = bytearray(encode(small, "BMP"))
    data[18:26] = struct.pack("<ii", 50000, 50000)
    assert_refused_quickly(lambda: decode_image(bytes(data), "huge.bmp"))


def test_gif_whose_first_frame_outgrows_the_screen_is_refused():
    """Pillow enlarges a GIF to fit its first frame: the check must see the enlarged size."""
    data = (
        b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
        + b"\x2c" + struct.pack("<HHHHB", 0, 0, 60000, 60000, 0)
        + b"\x02\x02\x4c\x01\x00"  # LZW min code size 2, one block: clear + end
        + b"\x3b"
    )
    assert_refused_quickly(lambda: decode_image(data, "sneaky.gif"))


def test_max_pixels_is_respected(astronaut):
    data = encode(astronaut, "PNG")
    error = assert_refused_quickly(lambda: decode_image(data, "a.png", max_pixels=512 * 512 - 1))
    assert (error.size, error.limit, error.unit) == (512 * 512, 512 * 512 - 1, "pixels")
    assert "a.png" in str(error)
    assert_rgb8(decode_image(data, "a.png", max_pixels=512 * 512), 512, 512)
    assert "raise Settings.max_pixels" in str(error)  # what a user of the Python API can do


def test_max_pixels_counts_the_full_size_not_the_draft(big_jpeg):
    with pytest.raises(ImageTooLarge):
        load_image(big_jpeg, min_side=256, max_pixels=4000 * 3000 - 1)


def test_read_bytes_refuses_files_over_max_bytes(tmp_path):
    path = write(tmp_path / "x.png", b"\x89PNG" + b"\x00" * 996)
    with pytest.raises(ImageTooLarge) as info:
        read_bytes(path, max_bytes=999)
    assert (info.value.size, info.value.limit, info.value.unit) == (1000, 999, "bytes")
    assert str(path) in str(info.value)
    assert len(read_bytes(path, max_bytes=1000)) == 1000
    with pytest.raises(ImageTooLarge):
        load_image(path, max_bytes=10)


def test_no_decompression_bomb_warning_for_sizes_above_pillows_default(small):
    """12000 x 9000 is over Pillow's own bomb threshold but under ours: no warning leaks.

    The header is patched on a small JPEG, so the pixel data runs out. Draft mode keeps
    the attempt cheap.
    """
    data = bytearray(encode(small, "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 9000, 12000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:  # libjpeg fills a scan that ends early with grey
            decode_image(bytes(data), "truncated-large.jpg", min_side=256)
        except CorruptImage:
            pass
        with pytest.raises(ImageTooLarge):
            decode_image(bytes(data), "truncated-large.jpg", max_pixels=50_000_000)
    assert caught == []


# --------------------------------------------------------------------------- not images


def assert_names_the_file(error: DecodeError, path) -> None:
    assert error.source == str(path)
    assert str(path) in str(error)


@pytest.mark.parametrize(
    "name, content",
    [
        ("empty.jpg", b""),
        ("notes.txt", b"These are my holiday notes.\nNothing to see here.\n" * 20),
        ("random.png", bytes(random.Random(7).getrandbits(8) for _ in range(4096))),
        ("page.jpg", b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>"),
        ("zeros.gif", b"\x00" * 1000),
        ("tiny.bmp", b"B"),
    ],
)
def test_non_images_raise_not_an_image(tmp_path, name, content):
    path = write(tmp_path / name, content)
    with pytest.raises(NotAnImage) as info:
        load_image(path)
    assert_names_the_file(info.value, path)
    with pytest.raises(NotAnImage) as info:
        decode_image(content, path)
    assert_names_the_file(info.value, path)


def test_bytes_without_a_name_are_called_bytes():
    with pytest.raises(NotAnImage, match="<bytes>"):
        decode_image(b"hello")


def test_directory_is_not_an_image(tmp_path):
    folder = tmp_path / "photos.jpg"
    folder.mkdir()
    with pytest.raises(NotAnImage) as info:
        load_image(folder)
    assert_names_the_file(info.value, folder)


@pytest.mark.parametrize("relative", ["missing.jpg", "file.png/inside.jpg"])
def test_missing_file_raises_decode_error(tmp_path, relative):
    write(tmp_path / "file.png", b"x")
    path = tmp_path / relative
    with pytest.raises(DecodeError) as info:
        load_image(path)
    assert_names_the_file(info.value, path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def attempt():
        try:
            read_bytes(fifo)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=5)
    if worker.is_alive():  # unblock the reader so the thread can end
        with open(fifo, "wb"):
            pass
        pytest.fail("read_bytes blocked on a named pipe")
    assert isinstance(outcome[0], NotAnImage)
    assert_names_the_file(outcome[0], fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_device_is_refused():
    with pytest.raises(NotAnImage, match="not a regular file"):
        read_bytes("/dev/zero")


def test_unreadable_file_raises_decode_error(tmp_path, small, monkeypatch):
    path = write(tmp_path / "secret.png", encode(small, "PNG"))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)  # chmod 000 does not stop root
    with pytest.raises(DecodeError) as info:
        load_image(path)
    assert_names_the_file(info.value, path)
    assert "Permission denied" in str(info.value)


# --------------------------------------------------------------------------- corrupt images


@pytest.fixture(scope="module")
def samples(chelsea) -> dict[str, bytes]:
    """Valid files of every format, big enough to have a real entropy-coded body."""
    image = chelsea.resize((160, 106))
    return {
        "jpg": encode(image, "JPEG", quality=90),
        "png": encode(image, "PNG"),
        "gif": encode(image, "GIF"),
        "webp": encode(image, "WEBP", quality=80),
        "tif": encode(image, "TIFF", compression="tiff_lzw"),
        "bmp": encode(image, "BMP"),
    }


@pytest.mark.parametrize("kind", ["jpg", "png"])
@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.2])
def test_truncated_jpeg_and_png_are_corrupt(tmp_path, samples, kind, fraction):
    data = samples[kind]
    path = write(tmp_path / f"cut.{kind}", data[: int(len(data) * fraction)])
    with pytest.raises(CorruptImage) as info:
        load_image(path)
    assert_names_the_file(info.value, path)


@pytest.mark.parametrize("kind", ["jpg", "png", "gif", "webp", "tif", "bmp"])
@pytest.mark.parametrize("keep", [12, 40, 0.5])
def test_truncated_files_of_every_format_raise_corrupt_image(samples, kind, keep):
    """Cut in the header or in the pixel data: the signature is intact, so 'corrupt'."""
    data = samples[kind]
    cut = data[: keep if isinstance(keep, int) else int(len(data) * keep)]
    with pytest.raises(CorruptImage) as info:
        decode_image(cut, f"cut.{kind}")
    assert f"cut.{kind}" in str(info.value)


@pytest.mark.parametrize("kind", ["jpg", "png"])
def test_flipped_bytes_in_the_middle_are_corrupt_or_decoded(samples, kind):
    data = samples[kind]
    outcomes = set()
    for fraction in np.linspace(0.05, 0.95, 19):
        damaged = bytearray(data)
        offset = int(len(data) * fraction)
        for i in range(offset, offset + 4):
            damaged[i] ^= 0xFF
        try:
            decoded = decode_image(bytes(damaged), f"flipped.{kind}")
        except CorruptImage as error:
            assert f"flipped.{kind}" in str(error)
            outcomes.add("corrupt")
        else:
            assert decoded.image.mode == "RGB" and decoded.image.size == (160, 106)
            outcomes.add("decoded")
    if kind == "png":
        assert "corrupt" in outcomes  # zlib and CRC catch PNG damage


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random kind of damage: flips, overwrites with extreme values, cuts, insertions."""
    damaged = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0:  # flip a few random bits
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # overwrite a header-ish integer with an extreme value
        offset = rng.randrange(min(len(damaged) - 4, 200))
        extremes = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x00\x01\x00\x00"]
        damaged[offset : offset + 4] = rng.choice(extremes)
    elif kind == 2:  # truncate
        damaged = damaged[: rng.randrange(1, len(damaged))]
    elif kind == 3:  # insert random bytes
        offset = rng.randrange(len(damaged))
        damaged[offset:offset] = rng.randbytes(rng.randint(1, 16))
    elif kind == 4:  # delete a run
        offset = rng.randrange(len(damaged))
        del damaged[offset : offset + rng.randint(1, 64)]
    else:  # random bytes over a run
        offset = rng.randrange(len(damaged))
        length = rng.randint(1, 32)
        damaged[offset : offset + length] = rng.randbytes(length)[: len(damaged) - offset]
    return bytes(damaged)


@pytest.mark.parametrize("kind", ["jpg", "png", "gif", "webp", "tif", "bmp"])
def test_fuzzed_files_decode_or_raise_decode_error(capfd, small, kind):
    params = {
        "jpg": ("JPEG", {"quality": 80}),
        "png": ("PNG", {}),
        "gif": ("GIF", {}),
        "webp": ("WEBP", {"quality": 80}),
        "tif": ("TIFF", {"compression": "tiff_lzw"}),
        "bmp": ("BMP", {}),
    }[kind]
    if kind in ("jpg", "png", "webp", "tif"):  # with EXIF, so metadata gets damaged too
        data = with_orientation(small, params[0], 6, **params[1])
    else:
        data = encode(small, params[0], **params[1])
    rng = random.Random(f"lookalike-{kind}")
    slowest = 0.0
    for round_ in range(200):
        damaged = mutate(data, rng)
        start = time.perf_counter()
        try:
            decoded = decode_image(
                damaged, f"fuzz-{round_}.{kind}", min_side=rng.choice([None, 8]), max_pixels=2_000_000
            )
        except DecodeError as error:
            assert f"fuzz-{round_}.{kind}" in str(error)
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"round {round_}: untyped {type(error).__name__}: {error}")
        else:
            assert decoded.image.mode == "RGB"
            assert decoded.width > 0 and decoded.height > 0
            assert decoded.image.width * decoded.image.height <= 2_000_000
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 1.0
    assert capfd.readouterr() == ("", "")  # not even libtiff or libjpeg on stderr


# --------------------------------------------------------------------------- quiet


def test_the_library_never_prints(capfd, tmp_path, samples, small):
    data = samples["jpg"]
    flipped = bytearray(data)
    for i in range(len(data) // 2, len(data) // 2 + 64):
        flipped[i] ^= 0x55
    inputs = [
        data, data[: len(data) // 2], bytes(flipped), samples["png"][:300], samples["tif"][:500],
        samples["webp"][:200], samples["gif"][:300], b"not an image", b"",
        with_orientation(small, "JPEG", 6), png_bytes(30000, 30000, b""),
    ]
    for index, blob in enumerate(inputs):
        try:
            decode_image(blob, f"quiet-{index}")
        except DecodeError:
            pass
    for path in (tmp_path / "missing.png", tmp_path):
        with pytest.raises(DecodeError):
            load_image(path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_program_without_logging_or_warning_setup_prints_nothing(tmp_path, samples, small):
    """Outside pytest nothing captures warnings or log records: check in a fresh interpreter."""
    tiff = bytearray(encode(small, "TIFF", compression="tiff_lzw"))
    samples_tag = tiff.index(struct.pack("<HHIH", 277, 3, 1, 3))  # SamplesPerPixel = 3
    tiff[samples_tag + 8 : samples_tag + 10] = struct.pack("<H", 8195)  # Pillow logs an error
    lzw = samples["tif"]
    bad_exif = bytearray(with_orientation(small, "JPEG", 6))
    exif_at = bad_exif.index(b"Exif\x00\x00")
    bad_exif[exif_at + 10 : exif_at + 14] = b"\xff\xff\xff\x7f"  # IFD offset past the end
    broken = {
        "samples.tif": bytes(tiff),
        "cut.tif": lzw[: len(lzw) * 2 // 3],
        "garbled.tif": lzw[:200] + bytes(b ^ 0x5A for b in lzw[200:600]) + lzw[600:],
        "exif.jpg": bytes(bad_exif),
        "cut.jpg": samples["jpg"][: len(samples["jpg"]) // 2],
        "cut.png": samples["png"][:-100],
        "cut.webp": samples["webp"][:300],
        "cut.gif": samples["gif"][:400],
        "cut.bmp": samples["bmp"][:100],
    }
    for name, content in broken.items():
        write(tmp_path / name, content)
    script = (
        "import pathlib, sys\n"
        "from lookalike.decode import load_image\n"
        "from lookalike.errors import DecodeError\n"
        "for path in sorted(pathlib.Path(sys.argv[1]).iterdir()):\n"
        "    try:\n"
        "        load_image(path)\n"
        "    except DecodeError:\n"
        "        pass\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")


@pytest.mark.parametrize("size", [(1, 5000), (5000, 1), (3, 400)])
def test_strips_too_thin_to_describe_are_refused_from_the_header(size):
    """A 1 x 5,000 PNG is 106 bytes; texture once stretched it to 256 x 1,280,000 pixels (23 GB)."""
    from lookalike.decode import MAX_ASPECT
    from lookalike.errors import OddShape

    data = encode(Image.new("RGB", size, (120, 30, 40)), "PNG")
    with pytest.raises(OddShape) as info:
        decode_image(data, "thin.png")
    error = info.value
    assert (error.width, error.height, error.max_aspect) == (*size, MAX_ASPECT)
    assert "thin.png" in str(error) and "odd shape" in str(error)


@pytest.mark.parametrize("size", [(1, 100), (100, 1), (1280, 20000)])
def test_long_but_plausible_shapes_decode(size):
    assert_rgb8(decode_image(encode(Image.new("RGB", size, (9, 9, 9)), "PNG"), "long.png"), *size)


def test_importing_lookalike_leaves_the_hosts_pillow_limit_alone():
    code = ("import PIL.Image as I; before = I.MAX_IMAGE_PIXELS; import lookalike, lookalike.decode, lookalike.cli; "
            "assert I.MAX_IMAGE_PIXELS == before, I.MAX_IMAGE_PIXELS")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_program_that_owns_its_process_lifts_pillows_limit_to_its_own_while_it_runs(monkeypatch):
    """The command line's --max-megapixels (and the server's) must be the limit in force:
    Pillow refuses at twice its MAX_IMAGE_PIXELS, so a higher limit lifts it, and only
    while the program runs; a lower one leaves it alone."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pillow_allowing(5001):
        assert Image.MAX_IMAGE_PIXELS == 2501
    assert Image.MAX_IMAGE_PIXELS == 1000
    with pillow_allowing(1500):
        assert Image.MAX_IMAGE_PIXELS == 1000
    bomb = encode(Image.new("RGB", (100, 50)), "PNG")  # 5,000 pixels: Pillow alone refuses it
    with pytest.raises(ImageTooLarge):
        decode_image(bomb, "b.png")
    with pillow_allowing(5000):
        assert decode_image(bomb, "b.png").width == 100
        with pytest.raises(ImageTooLarge, match="4,999"):
            decode_image(bomb, "b.png", max_pixels=4999)


def test_a_host_that_lowered_pillows_limit_gets_a_typed_refusal(astronaut, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # the host's choice: 200,000 refused
    data = encode(astronaut, "PNG")  # 512 x 512
    with pytest.raises(ImageTooLarge) as info:
        decode_image(data, "a.png")
    assert (info.value.size, info.value.limit) == (512 * 512, 200_000)
    assert "PIL.Image.MAX_IMAGE_PIXELS" in str(info.value)

"""What phones and cameras make: HEIC and AVIF written from real photos by the plugins
themselves, DNGs from a real photo's Bayer mosaic (written by PiDNG, the Raspberry Pi camera's
DNG writer, and with an embedded preview by tifffile: no package ships a camera's RAW file),
each read through the same limits as every picture, and each one picture with its JPEG export."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Collection, Settings
from lookalike.decode import decode_image, load_image, pixel_digest
from lookalike.demo import sample_image
from lookalike.errors import CorruptImage, ImageTooLarge, NotAnImage

pillow_heif = pytest.importorskip("pillow_heif", reason="HEIC needs pillow-heif: pip install 'lookalike[formats]'")

ORIENTATION = 0x0112


def heic_bytes(image: Image.Image, orientation: int | None = None, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[ORIENTATION] = orientation
    pillow_heif.from_pillow(image).save(buffer, quality=quality, exif=exif.tobytes() if orientation else None)
    return buffer.getvalue()


def avif_bytes(image: Image.Image, orientation: int | None = None, quality: int = 85) -> bytes:
    if "AVIF" not in Image.SAVE and not _avif_plugin():
        pytest.skip("AVIF needs Pillow 11.3 or later, or pillow-avif-plugin")
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[ORIENTATION] = orientation
    image.save(buffer, "AVIF", quality=quality, exif=exif.tobytes() if orientation else b"")
    return buffer.getvalue()


def _avif_plugin() -> bool:
    try:
        import pillow_avif  # noqa: F401
    except ImportError:
        return False
    return True


def dng_file(path: Path, photo: Image.Image) -> Path:
    """A real DNG (PiDNG): the photo's linear RGGB mosaic at 12 bits, with a colour matrix
    that makes the camera's RGB sRGB's, as a Raspberry Pi camera module would write it."""
    pidng = pytest.importorskip("pidng.core", reason="the DNG test needs PiDNG: pip install 'lookalike[test]'")
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, Orientation, PhotometricInterpretation

    linear = (np.asarray(photo, dtype=np.float64) / 255.0) ** 2.2 * 4095
    height, width, _ = linear.shape
    mosaic = np.zeros((height, width), dtype=np.uint16)
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = linear[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = linear[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]
    xyz_to_srgb = [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
    tags = pidng.DNGTags()
    Tag = pidng.Tag
    for tag, value in [
        (Tag.ImageWidth, width), (Tag.ImageLength, height), (Tag.TileWidth, width), (Tag.TileLength, height),
        (Tag.Orientation, Orientation.Horizontal),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1), (Tag.BitsPerSample, 12), (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB), (Tag.BlackLevel, 0), (Tag.WhiteLevel, 4095),
        (Tag.ColorMatrix1, [[round(v * 10000), 10000] for row in xyz_to_srgb for v in row]),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65), (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.BaselineExposure, [[0, 1]]), (Tag.Make, "lookalike"), (Tag.Model, "test mosaic"),
        (Tag.DNGVersion, DNGVersion.V1_4), (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ]:
        tags.set(tag, value)
    writer = pidng.RAW2DNG()
    writer.options(tags, path=str(path.parent), compress=False)
    writer.convert(mosaic, filename=path.stem)
    return path


def dng_with_preview(path: Path, photo: Image.Image, preview_side: int, orientation: int = 1) -> Path:
    """A DNG laid out as a camera converter writes one (tifffile): an 8-bit RGB preview in the
    first IFD (stored as the sensor saw it) and the 16-bit RGGB mosaic in its SubIFD, with
    the camera's orientation."""
    tifffile = pytest.importorskip("tifffile")
    linear = (np.asarray(photo, dtype=np.float64) / 255.0) ** 2.2 * 65535
    mosaic = np.zeros(linear.shape[:2], dtype=np.uint16)
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = linear[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = linear[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]
    preview = photo.copy()
    preview.thumbnail((preview_side, preview_side))
    xyz_to_srgb = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)
    dng_tags = [(50706, "B", 4, (1, 4, 0, 0), True), (50707, "B", 4, (1, 1, 0, 0), True),  # DNG version
                (50708, "s", 0, "lookalike test", True), (271, "s", 0, "lookalike", True), (272, "s", 0, "test", True),
                (50721, "2i", 9, [x for v in xyz_to_srgb for x in (round(v * 10000), 10000)], True),
                (50778, "H", 1, 21, True), (50728, "2I", 3, [1, 1, 1, 1, 1, 1], True), (274, "H", 1, orientation, True)]
    cfa_tags = [(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True),
                (50714, "H", 1, 0, True), (50717, "H", 1, 65535, True)]
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(np.asarray(preview), photometric="rgb", subfiletype=1, subifds=1, extratags=dng_tags)
        tiff.write(mosaic, photometric=32803, subfiletype=0, extratags=cfa_tags)  # 32803: CFA
    return path


@pytest.fixture(scope="module")
def chelsea() -> Image.Image:
    return sample_image("chelsea")


def _close(first: Image.Image, second: Image.Image, tolerance: float) -> bool:
    assert first.size == second.size, (first.size, second.size)
    return float(np.abs(np.asarray(first, dtype=np.float32) - np.asarray(second, dtype=np.float32)).mean()) < tolerance


@pytest.mark.parametrize("make, fmt", [(heic_bytes, "HEIF"), (avif_bytes, "AVIF")])
def test_phone_formats_decode_to_rgb(chelsea, make, fmt):
    decoded = decode_image(make(chelsea), f"photo.{fmt.lower()}")
    assert (decoded.format, decoded.image.mode, decoded.image.size) == (fmt, "RGB", chelsea.size)
    assert _close(decoded.image, chelsea, 4.0)


@pytest.mark.parametrize("make", [heic_bytes, avif_bytes])
@pytest.mark.parametrize("orientation, turn", [(6, Image.Transpose.ROTATE_270), (3, Image.Transpose.ROTATE_180),
                                               (8, Image.Transpose.ROTATE_90)])
def test_phone_formats_honour_the_orientation_once(chelsea, make, orientation, turn):
    decoded = decode_image(make(chelsea, orientation))
    upright = chelsea.transpose(turn)
    assert (decoded.width, decoded.height) == upright.size
    assert _close(decoded.image, upright, 4.0)


@pytest.mark.parametrize("make", [heic_bytes, avif_bytes])
def test_a_phone_format_bomb_is_refused_from_its_header(make):
    flat = make(Image.new("RGB", (3000, 2000), (40, 90, 160)), quality=30)  # a few kB
    assert len(flat) < 20_000
    with pytest.raises(ImageTooLarge, match="6,000,000 pixels > limit 1,000,000"):
        decode_image(flat, "bomb.heic", max_pixels=1_000_000)


@pytest.mark.parametrize("make", [heic_bytes, avif_bytes])
def test_truncated_phone_formats_are_corrupt(chelsea, make):
    data = make(chelsea)
    with pytest.raises(CorruptImage, match="half"):
        decode_image(data[: len(data) // 2], "half")


def test_dng_is_demosaiced_upright_at_half_size_when_that_is_enough(tmp_path):
    photo = sample_image("astronaut")
    path = dng_file(tmp_path / "astronaut.dng", photo)
    full = load_image(path)
    assert (full.format, full.width, full.height, full.image.size) == ("DNG", 512, 512, (512, 512))
    assert _close(full.image, photo, 25.0)  # a demosaic, not the photo's own pixels
    half = load_image(path, min_side=200)
    assert half.image.size == (256, 256) and (half.width, half.height) == (512, 512)
    assert pixel_digest(path.read_bytes(), half, path) is None  # no "exact" for RAW


def test_raw_preview_stands_for_the_raw_when_large_enough_turned_as_the_camera_held_it(tmp_path, chelsea):
    path = dng_with_preview(tmp_path / "IMG_0004.dng", chelsea, preview_side=400, orientation=6)
    upright = chelsea.transpose(Image.Transpose.ROTATE_270)
    preview = load_image(path, min_side=200)
    assert (preview.width, preview.height) == upright.size == (300, 451)
    assert preview.image.size == (266, 400)  # the preview, turned
    assert _close(preview.image, upright.resize(preview.image.size), 6.0)
    developed = load_image(path, min_side=280)  # more than the preview's short side
    assert developed.image.size == upright.size  # a full demosaic (half would be too small), turned by LibRaw
    assert _close(developed.image, upright, 25.0)


def test_raw_limits_and_damage(tmp_path):
    path = dng_file(tmp_path / "astronaut.dng", sample_image("astronaut"))
    with pytest.raises(ImageTooLarge, match="262,144 pixels"):
        load_image(path, max_pixels=100_000)
    with pytest.raises(ImageTooLarge, match="bytes"):
        load_image(path, max_bytes=1000)
    data = path.read_bytes()
    with pytest.raises((CorruptImage, NotAnImage), match="x.nef"):
        decode_image(b"not a raw file at all" * 10, "x.nef")
    with pytest.raises((CorruptImage, NotAnImage)):
        decode_image(data[:2000], "cut.dng")


@pytest.fixture(scope="module")
def phone_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Collection, Path]:
    """HEIC, AVIF and DNG files (one with a preview, held turned) and their JPEG exports (as a
    phone or a camera app makes them) in a folder, indexed with the default features."""
    folder = tmp_path_factory.mktemp("phone")
    chelsea, coffee, astronaut, rocket = (sample_image(name) for name in ("chelsea", "coffee", "astronaut", "rocket"))
    (folder / "IMG_0001.HEIC").write_bytes(heic_bytes(chelsea, orientation=6))
    (folder / "IMG_0002.avif").write_bytes(avif_bytes(coffee))
    dng_file(folder / "DSC_0003.dng", astronaut)
    dng_with_preview(folder / "DSC_0004.DNG", rocket, preview_side=320, orientation=8)  # held turned left
    exports = tmp_path_factory.mktemp("exports")
    chelsea.transpose(Image.Transpose.ROTATE_270).save(exports / "IMG_0001.jpg", quality=90)
    coffee.save(exports / "IMG_0002.jpg", quality=90)
    astronaut.save(exports / "DSC_0003.jpg", quality=90)
    rocket.transpose(Image.Transpose.ROTATE_90).save(exports / "DSC_0004.jpg", quality=90)
    collection = Collection(tmp_path_factory.mktemp("phone-store") / "phone.db")
    report = collection.index([folder])
    assert report.skipped == [] and report.indexed == 4
    yield collection, exports
    collection.close()


@pytest.mark.parametrize("stem, stored", [("IMG_0001", "IMG_0001.HEIC"), ("IMG_0002", "IMG_0002.avif"),
                                          ("DSC_0003", "DSC_0003.dng"), ("DSC_0004", "DSC_0004.DNG")])
def test_a_phone_or_camera_file_and_its_jpeg_export_are_one_picture(phone_library, stem, stored):
    collection, exports = phone_library
    best = collection.search(exports / f"{stem}.jpg", k=3)[0]
    assert Path(best.image.path).name == stored
    assert best.tier == "near-duplicate"  # other pixels than the JPEG's, the same picture


def test_the_same_pixels_in_a_png_are_exact(phone_library, tmp_path):
    collection, _ = phone_library
    heic = next(r for r in collection.page() if r.format == "HEIF")
    decode_image(Path(heic.path).read_bytes()).image.save(tmp_path / "same-pixels.png")
    assert collection.search(tmp_path / "same-pixels.png", k=1)[0].tier == "exact"


def test_readers_are_registered_only_when_a_file_needs_them(tmp_path):
    """`lookalike --help` and a JPEG-only run load neither plugin (tests/test_startup.py)."""
    code = ("import io, sys; from PIL import Image; from lookalike.decode import decode_image; "
            "b = io.BytesIO(); Image.effect_noise((64, 48), 40).save(b, 'JPEG'); decode_image(b.getvalue(), 'a.jpg'); "
            "print(sorted(m for m in ('pillow_heif', 'pillow_avif', 'rawpy', 'av') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.strip() == "[]"


def test_a_heic_bomb_and_a_broken_raw_are_skipped_with_their_reason(tmp_path):
    folder = tmp_path / "camera roll"
    folder.mkdir()
    (folder / "bomb.heic").write_bytes(heic_bytes(Image.new("RGB", (3000, 2000), (40, 90, 160)), quality=30))
    (folder / "IMG_0001.heic").write_bytes(heic_bytes(sample_image("coffee")))
    (folder / "broken.nef").write_bytes(b"II*\x00" + bytes(4000))
    settings = Settings(db=tmp_path / "roll.db", features=("dhash", "phash"), max_pixels=1_000_000)
    with Collection(settings=settings) as collection:
        report = collection.index([folder])
    skipped = dict(report.skipped)
    assert report.indexed == 1 and set(skipped) == {str(folder / "bomb.heic"), str(folder / "broken.nef")}
    assert "image too large: 6,000,000 pixels > limit 1,000,000" in skipped[str(folder / "bomb.heic")]
    assert "RAW" in skipped[str(folder / "broken.nef")]

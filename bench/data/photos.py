"""The real photos the benchmark images are made from: scikit-image's samples, OpenCV's
samples, MATE and Plasma wallpapers; the same-object pairs; the texture photos."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from PIL import Image

from lookalike.demo import sample_image
from lookalike.scan import IMAGE_SUFFIXES

from .packages import MATE_DIR, OPENCV_DATA, PLASMA_DIR


@dataclass(frozen=True)
class Photo:
    """A real photo: a stable file-name stem and how to load it as RGB."""

    name: str
    load: Callable[[], Image.Image]


def open_rgb(path: Path) -> Image.Image:
    """Any mode -> RGB, transparency flattened onto white."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, "white")
            return Image.alpha_composite(white, rgba).convert("RGB")
        return image.convert("RGB")


def file_photo(prefix: str, path: Path, name: str | None = None) -> Photo:
    return Photo(f"{prefix}-{name or path.stem}", partial(open_rgb, path))


def skimage_photo(name: str) -> Photo:
    return Photo(f"skimage-{name}", partial(sample_image, name))


SKIMAGE_PHOTOS = (
    "astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "hubble_deep_field", "retina",
    "immunohistochemistry", "moon",
)
OPENCV_PHOTOS = (
    "baboon.jpg", "building.jpg", "butterfly.jpg", "fruits.jpg", "home.jpg", "messi5.jpg", "orange.jpg",
    "apple.jpg", "smarties.png", "squirrel_cls.jpg", "starry_night.jpg", "stuff.jpg", "pca_test1.jpg",
    "board.jpg", "ela_original.jpg", "licenseplate_motion.jpg",
)


def largest_wallpaper(folder: Path) -> Path:
    """Plasma ships each wallpaper in several sizes named WIDTHxHEIGHT: keep the largest
    picture (other packages put SVG drawings in the same folders: never those)."""

    def area(path: Path) -> int:
        match = re.match(r"(\d+)x(\d+)", path.stem)
        return int(match.group(1)) * int(match.group(2)) if match else 0

    return max(raster_wallpapers(folder), key=area)


def raster_wallpapers(folder: Path) -> list[Path]:
    """The pictures lookalike reads among a wallpaper folder's sizes, sorted."""
    images = folder / "contents" / "images"
    return sorted(path for path in images.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES) if images.is_dir() else []


def source_photos() -> list[Photo]:
    """Every real photo of the near-duplicate gallery, in a fixed order mixing the origins.

    MATE's `desktop` and `abstract` folders are left out: transparent overlays, colour
    variants of one design and one picture in three sizes, i.e. copies of each other."""
    photos = [skimage_photo(name) for name in SKIMAGE_PHOTOS]
    photos += [file_photo("opencv", OPENCV_DATA / name) for name in OPENCV_PHOTOS]
    photos += [file_photo("mate", path) for path in sorted((MATE_DIR / "nature").glob("*.jpg"))]
    photos += [
        file_photo("plasma", largest_wallpaper(folder), folder.name)
        for folder in sorted(PLASMA_DIR.iterdir())
        if raster_wallpapers(folder)
    ]
    return photos


# The same object or scene photographed twice (another viewpoint, time or exposure).
SAME_OBJECT_PAIRS = (
    ("graf", "graf1.png", "graf3.png"),
    ("box", "box.png", "box_in_scene.png"),
    ("leuven", "leuvenA.jpg", "leuvenB.jpg"),
    ("aero", "aero1.jpg", "aero3.jpg"),
    ("books", "left.jpg", "right.jpg"),
    ("aloe", "aloeL.jpg", "aloeR.jpg"),
    ("suzanne", "Blender_Suzanne1.jpg", "Blender_Suzanne2.jpg"),
    ("basketball", "basketball1.png", "basketball2.png"),
    ("rubberwhale", "rubberwhale1.png", "rubberwhale2.png"),
    ("chessboard", "left01.jpg", "right01.jpg"),
)


@dataclass(frozen=True)
class TextureSource:
    photo: Photo
    region: tuple[float, float, float, float]  # (left, top, right, bottom) fractions of uniform texture


def texture_sources() -> list[TextureSource]:
    plasma = partial(file_photo, "plasma")
    return [
        TextureSource(skimage_photo("brick"), (0, 0, 1, 1)),
        TextureSource(skimage_photo("grass"), (0, 0, 1, 1)),
        TextureSource(skimage_photo("gravel"), (0, 0, 1, 1)),
        TextureSource(file_photo("mate", MATE_DIR / "nature" / "GreenMeadow.jpg"), (0, 0, 1, 1)),
        TextureSource(file_photo("mate", MATE_DIR / "nature" / "Wood.jpg"), (0, 0.3, 0.65, 1)),
        TextureSource(plasma(largest_wallpaper(PLASMA_DIR / "OneStandsOut"), "OneStandsOut"), (0, 0, 0.6, 0.65)),
        TextureSource(plasma(largest_wallpaper(PLASMA_DIR / "Grey"), "Grey"), (0, 0, 1, 0.6)),
        TextureSource(plasma(largest_wallpaper(PLASMA_DIR / "ColorfulCups"), "ColorfulCups"), (0, 0, 1, 1)),
        TextureSource(file_photo("mate", MATE_DIR / "nature" / "Blinds.jpg"), (0, 0, 1, 1)),
    ]

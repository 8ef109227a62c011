"""Texture patches: squares cut on a grid over uniform-texture photos, every third one
turned (cut from a larger square, rotated, cropped back, so it has no blank corners)."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, sqrt
from pathlib import Path

import numpy as np
from PIL import Image

from .files import write_image
from .photos import TextureSource, texture_sources
from .sizes import Size, pick_evenly


@dataclass(frozen=True)
class TexturePatch:
    path: Path
    texture: str
    angle: int  # degrees the patch was turned; 0 = as photographed


TEXTURE_SHORT_SIDE = 640  # photos are shrunk to this short side before cutting patches
PATCH_SIDE = 160
PATCH_ANGLES = (30, 45, 90, 60)  # every third patch is turned, by these in turn


def write_textures(size: Size, folder: Path) -> list[TexturePatch]:
    patches = []
    for source in pick_evenly(texture_sources(), size.textures):
        names = [patch_name(source.photo.name, i) for i in range(size.patches_per_texture)]
        if not all((folder / name).exists() for name, _ in names):
            cut_patches(source, [(folder / name, angle) for name, angle in names])
        patches += [TexturePatch(folder / name, source.photo.name, angle) for name, angle in names]
    return patches


def patch_name(texture: str, index: int) -> tuple[str, int]:
    angle = PATCH_ANGLES[(index // 3) % len(PATCH_ANGLES)] if index % 3 == 2 else 0
    return f"{texture}-{index:02d}{f'-rot{angle}' if angle else ''}.png", angle


def cut_patches(source: TextureSource, targets: list[tuple[Path, int]]) -> None:
    """Patches centred on a grid over the texture region; a turned patch is cut from a
    larger square, rotated, and cropped back, so it has no blank corners."""
    image = source.photo.load()
    image = image.resize(
        scaled_to_short_side(image.size, TEXTURE_SHORT_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0
    )
    for (path, angle), centre in zip(targets, grid_centres(image.size, source.region, len(targets))):
        if not path.exists():
            write_image(turned_patch(image, centre, angle), path)


def scaled_to_short_side(size: tuple[int, int], side: int) -> tuple[int, int]:
    scale = min(1.0, side / min(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def grid_centres(size: tuple[int, int], region: tuple[float, float, float, float], count: int) -> list[tuple[int, int]]:
    margin = ceil(PATCH_SIDE * sqrt(2) / 2) + 1  # room for a turned patch's larger square
    left, right = clamp_span(region[0] * size[0], region[2] * size[0], margin, size[0])
    top, bottom = clamp_span(region[1] * size[1], region[3] * size[1], margin, size[1])
    aspect = max(right - left, 1) / max(bottom - top, 1)
    columns = max(1, min(count, round(sqrt(count * aspect))))
    rows = ceil(count / columns)
    xs = np.linspace(left, right, columns).round().astype(int)
    ys = np.linspace(top, bottom, rows).round().astype(int)
    return [(int(x), int(y)) for y in ys for x in xs][:count]


def clamp_span(start: float, end: float, margin: int, limit: int) -> tuple[float, float]:
    """The centre span inside [start, end] that keeps `margin` px from every border."""
    low, high = max(start + margin, margin), min(end - margin, limit - margin)
    return (low, high) if low <= high else ((low + high) / 2, (low + high) / 2)


def turned_patch(image: Image.Image, centre: tuple[int, int], angle: int) -> Image.Image:
    half = PATCH_SIDE // 2
    if angle == 0:
        return image.crop((centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half))
    big = ceil(PATCH_SIDE * sqrt(2) / 2) + 1
    square = image.crop((centre[0] - big, centre[1] - big, centre[0] + big, centre[1] + big))
    turned = square.rotate(angle, resample=Image.Resampling.BICUBIC)
    middle = turned.width // 2
    return turned.crop((middle - half, middle - half, middle + half, middle + half))

"""Data for the training benchmark (`bench.train`), from files that install offline.

- Fashion-MNIST (Debian `dataset-fashion-mnist`), read straight from its IDX files: a
  subset of the train split to train on, a subset of the test split to measure on.
- Real photos for near-duplicates: wallpapers (Plasma, MATE) and OpenCV's samples, the
  photos `bench.data` picks (scikit-image's samples are left to the unit tests).
- Look-alike textures, as labelled folders for a store: `bench.data`'s texture patches
  (nine textures, every third patch turned), the same patches in grey with equalised
  histograms (colour and brightness give nothing away), and generated heaps of "tea":
  six kinds of leaf that differ only in leaf size, thickness and density, ten heaps each.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from lookalike.train.data import ImageSet, from_images

from .. import data

HEAP_SIDE = 192
HEAPS_PER_TEA = 10
# (leaf length px, leaf width px, leaves per 100 px^2, colour shift): neighbours differ a little.
TEAS = {
    "sencha": (7, 2, 3.0, (0, 10, 0)),
    "gunpowder": (4, 4, 2.2, (0, 0, 0)),
    "assam": (9, 2, 2.6, (8, 0, -4)),
    "darjeeling": (11, 2, 2.4, (4, 4, 0)),
    "oolong": (8, 3, 2.0, (0, 4, 0)),
    "rooibos": (13, 1, 4.0, (14, -2, -6)),
}


def fashion(split: str, count: int) -> ImageSet:
    """The first `count` images of a split, taken evenly over classes (count // 10 each)."""
    prefix = "train" if split == "train" else "t10k"
    labels = data.read_idx(data.FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz")
    images = data.read_idx(data.FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz")
    rows = np.concatenate([np.flatnonzero(labels == label)[: count // 10] for label in range(10)])
    rows.sort()
    return from_images([Image.fromarray(images[row]).convert("RGB") for row in rows],
                       [data.FASHION_CLASSES[labels[row]] for row in rows])


def photos() -> tuple[list[str], list[Image.Image]]:
    """(names, images) of the real photos, shrunk to at most 512 px: training keeps 256."""
    chosen = [photo for photo in data.source_photos() if not photo.name.startswith("skimage-")]
    images = []
    for photo in chosen:
        image = photo.load()
        image.thumbnail((512, 512), Image.Resampling.LANCZOS)
        images.append(image)
    return [photo.name for photo in chosen], images


def texture_folders(data_dir: Path, quick: bool) -> dict[str, Path]:
    """name -> a folder of LABEL/ sub-folders, written once under DATA/train/."""
    size = replace(data.QUICK if quick else data.FULL, textures=9, patches_per_texture=6 if quick else 10)
    patches = data.write_textures(size, data_dir / "texture")
    root = data_dir / "train"
    folders = {"texture patches": root / "texture-colour", "texture patches, grey": root / "texture-grey",
               "tea heaps": root / "tea"}
    for patch in patches:
        label = re.sub(r"^(plasma|mate|skimage)-", "", patch.texture)
        write_once(folders["texture patches"] / label / patch.path.name, partial(Image.open, patch.path))
        write_once(folders["texture patches, grey"] / label / patch.path.name, partial(grey, patch.path))
    for tea, kind in TEAS.items():
        for heap_number in range(6 if quick else HEAPS_PER_TEA):
            write_once(folders["tea heaps"] / tea / f"{tea}-{heap_number:02d}.png",
                       partial(heap, kind, hash_seed(tea, heap_number)))
    return folders


def grey(path: Path) -> Image.Image:
    """Grey, histogram equalised: colour and brightness no longer tell textures apart."""
    return ImageOps.equalize(Image.open(path).convert("L"))


def write_once(path: Path, make: Callable[[], Image.Image]) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    make().save(tmp)
    shutil.move(tmp, path)


def hash_seed(name: str, number: int) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(name)) % 100_003 * 1000 + number


def heap(kind: tuple[float, float, float, tuple[int, int, int]], seed: int) -> Image.Image:
    """A heap of tea leaves seen from above: short strokes at random angles on a dark
    ground, lit a little differently each time."""
    length, width, density, shift = kind
    rng = np.random.default_rng(seed)
    base = np.array([95, 62, 32]) * rng.uniform(0.85, 1.15)
    image = Image.new("RGB", (HEAP_SIDE, HEAP_SIDE), tuple(int(v * 0.45) for v in base))
    draw = ImageDraw.Draw(image)
    for _ in range(int(density * HEAP_SIDE * HEAP_SIDE / 100)):
        x, y = rng.uniform(-10, HEAP_SIDE + 10, 2)
        angle = rng.uniform(0, np.pi)
        stroke = length * rng.uniform(0.6, 1.4)
        shade = np.clip((base + np.array(shift)) * rng.uniform(0.55, 1.45), 0, 255).astype(int)
        draw.line([(x, y), (x + stroke * np.cos(angle), y + stroke * np.sin(angle))], fill=tuple(int(c) for c in shade),
                  width=max(1, round(width * rng.uniform(0.7, 1.3))))
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.8))))

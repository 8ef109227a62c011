"""The pictures a copy descriptor trains on: every image under some folders and the images
of idx files (Fashion-MNIST's format), decoded once and kept small.

Large pictures (wallpapers, photos) give many training instances each: an instance is a
random window of one (`Source.instance`), so a few dozen photos of 4K give thousands of
distinct pictures, all alike in kind, which is what a copy detector must learn to tell
apart. Small pictures (clip art, product shots) are instances whole.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from ...decode import load_image
from ...errors import DecodeError
from ...scan import scan

KEEP_SIDE = 320  # longest side kept in memory (views are made at this size)
MIN_SIDE = 24  # smaller files are icons, not pictures
LARGE_SIDE = 700  # pictures at least this large on their short side give windows as instances
Log = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    """One training picture, kept at most KEEP_SIDE on its longest side."""

    name: str
    image: Image.Image
    large: bool  # instances are random windows of it

    def instance(self, rng: np.random.Generator) -> Image.Image:
        """A picture to make copies of: a window of 15-60% of a large picture's area at a
        random place, or the whole of a small one."""
        if not self.large:
            return self.image
        return _window(self.image, rng, 0.15, 0.6)

    def siblings(self, rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
        """Two pictures of one scene that are not copies of each other: windows of the two
        sides of a large picture split at a random place, so they share no pixel (like
        neighbouring tiles of one photo, or two shots of one place). As negatives in one
        batch they teach the descriptor what the hard galleries ask: alike is not a copy."""
        width, height = self.image.size
        vertical = width >= height
        side = width if vertical else height
        cut = int(rng.integers(round(side * 0.35), round(side * 0.65) + 1))
        boxes = ((0, 0, cut, height), (cut, 0, width, height)) if vertical else \
            ((0, 0, width, cut), (0, cut, width, height))
        return tuple(_window(self.image.crop(box), rng, 0.4, 1.0) for box in boxes)  # type: ignore[return-value]


def _window(image: Image.Image, rng: np.random.Generator, least: float, most: float) -> Image.Image:
    """A window of `least` to `most` of the picture's area, aspect 3:4 to 4:3, at a random place."""
    width, height = image.size
    area = float(rng.uniform(least, most))
    aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
    w = max(1, min(width, round(np.sqrt(area * width * height * aspect))))
    h = max(1, min(height, round(np.sqrt(area * width * height / aspect))))
    left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    return image.crop((left, top, left + w, top + h))


def load_sources(folders: Sequence[Path], idx_files: Sequence[Path] = (), idx_limit: int = 3000,
                 per_folder_limit: int = 1500, log: Log | None = None) -> list[Source]:
    """Every decodable picture under `folders` (or the file itself, for a file) (at most `per_folder_limit` each, spread
    evenly over the sorted files) and the first `idx_limit` images of each idx file."""
    sources: list[Source] = []
    for folder in folders:
        found = _folder_sources(Path(folder), per_folder_limit)
        if log:
            log(f"{folder}: {len(found)} pictures")
        sources += found
    for path in idx_files:
        found = _idx_sources(Path(path), idx_limit)
        if log:
            log(f"{path}: {len(found)} pictures")
        sources += found
    return sources


def _folder_sources(folder: Path, limit: int) -> list[Source]:
    files = [folder] if folder.is_file() else sorted(record.path for record in scan([folder]))
    if len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]
    sources = []
    for path in files:
        try:
            image = load_image(path, min_side=2 * KEEP_SIDE).image.convert("RGB")
        except (DecodeError, OSError):
            continue
        if min(image.size) < MIN_SIDE:
            continue
        large = min(image.size) >= LARGE_SIDE
        image.thumbnail((KEEP_SIDE * (3 if large else 1),) * 2, Image.Resampling.LANCZOS)
        sources.append(Source(str(path), image, large))
    return sources


def _idx_sources(path: Path, limit: int) -> list[Source]:
    """Greyscale images of an idx3 file (gzip or not), upscaled to 224 on white like a
    product shot (Fashion-MNIST draws the item light on black: inverted)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if int.from_bytes(data[2:3], "big") != 0x08 or data[3] != 3:
        raise ValueError(f"{path}: not an idx3 file of unsigned bytes")
    count, rows, cols = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)
    chosen = np.linspace(0, count - 1, min(limit, count)).round().astype(int)
    return [Source(f"{path.name}#{row}",
                   Image.fromarray(255 - pixels[row]).convert("RGB").resize((224, 224), Image.Resampling.LANCZOS),
                   False) for row in chosen]

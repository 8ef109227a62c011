"""Test images for the speed benchmark, made from real photos in Debian packages:
12 MP camera-like JPEGs, 640x480 JPEGs, edited copies to query with, Fashion-MNIST PNGs."""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .plan import Plan

LARGE_SIZE = (4000, 3000)  # 12 MP, a phone camera's picture
SMALL_SIZE = (640, 480)
WALLPAPER_GLOB = "/usr/share/wallpapers/*/contents/images/*"
MATE_PHOTOS = Path("/usr/share/backgrounds/mate/nature")  # its other folders are flat graphics
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
MISSING_SOURCES = (
    "the speed benchmark needs real photos: Debian's plasma-workspace-wallpapers and mate-backgrounds "
    "(as root: apt-get install plasma-workspace-wallpapers mate-backgrounds)"
)
# Edits applied to the query images (edited copies of stored pictures, as users search).
QUERY_EDITS = ("jpeg15", "crop80", "rot90", "mirror", "brighter", "caption", "downscale25", "border")


def photo_sources() -> list[Path]:
    """One file per distinct real picture: the largest rendition of each wallpaper and
    each MATE nature photo (crops of MATE's flat desktop graphics would be identical)."""
    from glob import glob

    largest: dict[str, tuple[int, Path]] = {}
    candidates = [Path(p) for p in glob(WALLPAPER_GLOB)]
    if MATE_PHOTOS.is_dir():
        candidates += [p for p in MATE_PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".png")]
    for path in candidates:
        key = path.parts[4] if path.parts[3] == "wallpapers" else path.stem
        pixels = _pixels(path)
        if pixels and pixels > largest.get(key, (0, path))[0]:
            largest[key] = (pixels, path)
    return [largest[key][1] for key in sorted(largest)]


def _pixels(path: Path) -> int:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.width * image.height
    except OSError:
        return 0


def crop_to_aspect(image: Any, aspect: float, fraction: float, anchor: tuple[float, float]) -> Any:
    """The largest window of `aspect` (w/h), shrunk by `fraction`, placed at `anchor` (0..1)."""
    width, height = image.size
    crop_w, crop_h = (width, width / aspect) if width / height < aspect else (height * aspect, height)
    crop_w, crop_h = crop_w * fraction, crop_h * fraction
    left = (width - crop_w) * anchor[0]
    top = (height - crop_h) * anchor[1]
    return image.crop((round(left), round(top), round(left + crop_w), round(top + crop_h)))


class SensorNoise:
    """Camera-like grain (luminance plus weaker colour noise) from one pre-drawn tile, so
    that making 12 MP pictures is not dominated by drawing random numbers."""

    def __init__(self, seed: int = 0, tile: int = 1024) -> None:
        rng = np.random.default_rng(seed)
        luma = rng.normal(0.0, 4.0, (tile, tile, 1))
        chroma = rng.normal(0.0, 2.0, (tile, tile, 3))
        self.tile = (luma + chroma).astype(np.float32)

    def add(self, pixels: np.ndarray, shift: int) -> np.ndarray:
        height, width = pixels.shape[:2]
        reps = (math.ceil(height / self.tile.shape[0]) + 1, math.ceil(width / self.tile.shape[1]) + 1, 1)
        noise = np.tile(np.roll(self.tile, shift, axis=(0, 1)), reps)[:height, :width]
        return np.clip(pixels.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def make_large_jpegs(folder: Path, sources: list[Path], count: int) -> list[Path]:
    """`count` 4000x3000 JPEGs at quality 90 with sensor-like grain: the bytes a camera
    writes (a few MB each), cropped and turned differently when a source is reused."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    noise: SensorNoise | None = None
    paths = []
    for number in range(count):
        path = folder / f"large-{number:03d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        noise = noise or SensorNoise()
        variant, source = divmod(number, len(sources))
        with Image.open(sources[source]) as opened:
            image = opened.convert("RGB")
        anchor = ((0.5, 0.5), (0.0, 0.0), (1.0, 1.0), (0.0, 1.0))[variant % 4]
        image = crop_to_aspect(image, 4 / 3, 1.0 if variant == 0 else 0.8, anchor)
        if variant % 2:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        image = image.resize(LARGE_SIZE, Image.Resampling.BICUBIC)
        grainy = Image.fromarray(noise.add(np.asarray(image), shift=97 * number))
        _save_atomically(grainy, path, quality=90)
    return paths


def make_small_jpegs(folder: Path, sources: list[Path], count: int) -> list[Path]:
    """`count` 640x480 JPEGs at quality 90: each photo whole, then windows of 30-70%."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"small-{number:03d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        window, source = divmod(number, len(sources))
        rng = np.random.default_rng(number)  # each reuse of a source: its own window
        fraction, anchor = (1.0, (0.5, 0.5)) if window == 0 else (rng.uniform(0.3, 0.7), tuple(rng.random(2)))
        with Image.open(sources[source]) as opened:
            opened.draft("RGB", (opened.width // 4, opened.height // 4))  # JPEG sources only
            image = opened.convert("RGB")
        image = crop_to_aspect(image, 4 / 3, fraction, anchor).resize(SMALL_SIZE, Image.Resampling.LANCZOS)
        _save_atomically(image, path, quality=90)
    return paths


def make_queries(folder: Path, originals: list[Path], count: int) -> list[tuple[Path, Path]]:
    """(query, original) pairs: edited copies of the first `count` small images."""
    from PIL import Image

    from lookalike.edits import EDITS

    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for number, original in enumerate(originals[:count]):
        edit = QUERY_EDITS[number % len(QUERY_EDITS)]
        path = folder / f"query-{number:03d}-{edit}.jpg"
        pairs.append((path, original))
        if not path.exists():
            with Image.open(original) as opened:
                _save_atomically(EDITS[edit](opened.convert("RGB")), path, quality=85)
    return pairs


def make_fashion_mnist(folder: Path, count: int) -> list[Path]:
    """The first `count` 28x28 test images of Fashion-MNIST (Debian's dataset-fashion-mnist)
    as PNG files; none if the package is missing."""
    from PIL import Image

    if count == 0 or not FASHION_MNIST.exists():
        return []
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"mnist-{number:04d}.png" for number in range(count)]
    if all(path.exists() for path in paths):
        return paths
    with gzip.open(FASHION_MNIST) as file:
        pixels = np.frombuffer(file.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    for path, image in zip(paths, pixels):
        if not path.exists():
            _save_atomically(Image.fromarray(image), path)
    return paths


def _save_atomically(image: Any, path: Path, **options: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG" if path.suffix == ".png" else "JPEG", **options)
    os.replace(tmp, path)


@dataclass(frozen=True)
class ImageSets:
    large: Path
    small: Path
    mnist: Path | None
    queries: list[tuple[Path, Path]]

    def describe(self) -> dict[str, dict[str, Any]]:
        """Count, mean file size and pixel size of each set, for the report."""
        from PIL import Image

        described = {}
        for name, folder in (("large", self.large), ("small", self.small), ("mnist", self.mnist)):
            files = sorted(folder.iterdir()) if folder else []
            if files:
                with Image.open(files[0]) as first:
                    size = first.size
                mean = sum(f.stat().st_size for f in files) / len(files)
                described[name] = {"count": len(files), "mean_bytes": round(mean), "size": list(size)}
        return described


def prepare_images(root: Path, plan: Plan) -> ImageSets:
    sources = photo_sources()
    if not sources:
        raise SystemExit(MISSING_SOURCES)
    make_large_jpegs(root / "large", sources, plan.large_images)
    small = make_small_jpegs(root / "small", sources, plan.small_images)
    queries = make_queries(root / "queries", small, plan.queries)
    mnist = make_fashion_mnist(root / "mnist", plan.mnist_images)
    return ImageSets(root / "large", root / "small", root / "mnist" if mnist else None, queries)


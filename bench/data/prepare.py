"""`prepare()`: every benchmark image written under the data folder unless it is there, and
the `Dataset` listing them (the folder's layout: `bench.data`)."""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .edits import EDIT_KINDS, PASTE_HOSTS, Anywhere
from .files import copy_file, write_image
from .packages import CLIPART_DIR, FASHION_DIR, OPENCV_DATA, STAMPS_DIR, ensure_packages
from .photos import SAME_OBJECT_PAIRS, Photo, open_rgb, source_photos
from .sizes import FULL, QUICK, Size, pick_evenly
from .textures import TexturePatch, write_textures

DEFAULT_DATA_DIR = Path("bench-data")

MAX_SOURCE_SIDE = 1600
MAX_DISTRACTOR_SIDE = 800

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


@dataclass(frozen=True)
class EditedCopy:
    path: Path
    source: Path
    edit: str


@dataclass(frozen=True)
class Labelled:
    path: Path
    label: str


@dataclass(frozen=True)
class Dataset:
    size: Size
    sources: list[Path]
    queries: list[EditedCopy]
    distractors: list[Path]
    pairs: list[tuple[Path, Path]]
    fashion: list[Labelled]
    texture: list[TexturePatch]


def prepare(data_dir: Path = DEFAULT_DATA_DIR, quick: bool = False) -> Dataset:
    """Write whatever is missing under `data_dir` and list what the benchmarks use."""
    ensure_packages()
    size = QUICK if quick else FULL
    data_dir = Path(data_dir)
    photos = pick_evenly([p for p in source_photos() if p.name not in PASTE_HOSTS], size.sources)
    sources = [write_source(photo, data_dir / "sources") for photo in photos]
    queried = pick_evenly(list(zip(photos, sources)), size.query_sources)
    return Dataset(
        size=size,
        sources=sources,
        queries=[
            write_query(photo, source, edit, data_dir / "queries") for photo, source in queried for edit in size.edits
        ],
        distractors=write_distractors(size, data_dir / "distractors"),
        pairs=write_pairs(size.pairs, data_dir / "pairs"),
        fashion=write_fashion(size.fashion_gallery, data_dir / "fashion"),
        texture=write_textures(size, data_dir / "texture"),
    )


def write_source(photo: Photo, folder: Path) -> Path:
    path = folder / f"{photo.name}.jpg"
    if not path.exists():
        image = photo.load()
        image.thumbnail((MAX_SOURCE_SIDE, MAX_SOURCE_SIDE), Image.Resampling.LANCZOS)
        write_image(image, path)
    return path


def write_query(photo: Photo, source: Path, edit: str, folder: Path) -> EditedCopy:
    """The edited copy of a source; "exact" is the source file byte for byte."""
    path = folder / f"{photo.name}-{edit}.jpg"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        kind = EDIT_KINDS[edit]
        if edit == "exact":
            shutil.copyfile(source, path)
        else:
            with Image.open(source) as original:
                image = original.convert("RGB")
            write_image(kind.apply(image, photo.name) if isinstance(kind, Anywhere) else kind(image), path)
    return EditedCopy(path, source, edit)


def write_distractors(size: Size, folder: Path) -> list[Path]:
    """Clipart and stamps (no symlinks: those are the same drawings twice), flattened on white."""
    clipart = sorted(p for p in CLIPART_DIR.rglob("*.png") if not p.is_symlink())
    stamps = sorted(p for p in STAMPS_DIR.rglob("*.png") if not p.is_symlink())
    chosen = [("clipart", p, CLIPART_DIR) for p in pick_evenly(clipart, size.clipart)]
    chosen += [("stamp", p, STAMPS_DIR) for p in pick_evenly(stamps, size.stamps)]
    return [write_distractor(kind, original, root, folder) for kind, original, root in chosen]


def write_distractor(kind: str, original: Path, root: Path, folder: Path) -> Path:
    stem = "_".join(original.relative_to(root).with_suffix("").parts)
    path = folder / f"{kind}-{stem}.png"
    if not path.exists():
        image = open_rgb(original)
        image.thumbnail((MAX_DISTRACTOR_SIDE, MAX_DISTRACTOR_SIDE), Image.Resampling.LANCZOS)
        write_image(image, path)
    return path


def write_pairs(count: int, folder: Path) -> list[tuple[Path, Path]]:
    """OpenCV's sample pairs plus scikit-image's stereo motorcycle, copied as they are."""
    pairs = [
        (copy_file(OPENCV_DATA / first, folder / f"{name}-a{Path(first).suffix}"),
         copy_file(OPENCV_DATA / second, folder / f"{name}-b{Path(second).suffix}"))
        for name, first, second in SAME_OBJECT_PAIRS[: max(0, count - 1)]
    ]
    if count > 0:
        pairs.append((write_motorcycle_view(0, folder), write_motorcycle_view(1, folder)))
    return pairs


def write_motorcycle_view(view: int, folder: Path) -> Path:
    path = folder / f"motorcycle-{'ab'[view]}.png"
    if not path.exists():
        import skimage.data

        write_image(Image.fromarray(skimage.data.stereo_motorcycle()[view]), path)
    return path


def write_fashion(count: int, folder: Path) -> list[Labelled]:
    """The first `count` images of the test split as LABEL-INDEX.png, with their class names."""
    labels = read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")[:count]
    paths = [folder / f"{label}-{index:05d}.png" for index, label in enumerate(labels)]
    if not all(path.exists() for path in paths):
        images = read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
        for path, pixels in zip(paths, images):
            if not path.exists():
                write_image(Image.fromarray(pixels), path)
    return [Labelled(path, FASHION_CLASSES[label]) for path, label in zip(paths, labels)]


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): big-endian magic, dimension sizes, then uint8 data."""
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

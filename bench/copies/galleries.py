"""The copy benchmark's galleries and queries, built in memory from installed packages.

Every gallery holds pictures of one kind only, so each distractor is a hard negative:

- fashion: Fashion-MNIST's TEST split, upscaled 28 -> 224 px (LANCZOS), dark on white as a
  product shot; sources and distractors spread evenly over the same ten classes;
- clipart: openclipart's `animals` category, transparency flattened on white;
- wallpapers-abstract / wallpapers-nature: MATE's and Plasma's backgrounds, smooth digital
  designs together and photos together (one picture per design: no size or colour twins);
- video-vtest / video-megamind: frames of one OpenCV sample video, every STRIDE-th frame,
  so neighbours are near but never identical;
- patches: non-overlapping tiles of the wallpaper photos and scikit-image's samples.

Queries: every source edited by every kind of `bench.copies.edits` (JPEG q95 bytes, as a
shared copy would be). Only the sources' copies are queries; the gallery is the sources and
the distractors. Every choice is deterministic (sorted files, even strides, seeds by name).

`build(quick)` gives them all; `build_gallery(name, quick)` one (the benchmark builds one at
a time, to hold a single gallery's images in memory). Another engineer evaluates a learned
copy descriptor with the same machinery, trained on OTHER packages (see docs/copies.md).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps

from ..data.packages import CLIPART_DIR, FASHION_DIR, MATE_DIR, OPENCV_DATA, PLASMA_DIR
from ..data.photos import largest_wallpaper, open_rgb
from ..data.prepare import read_idx
from ..data.sizes import pick_evenly
from .edits import EDIT_KINDS, edited

LONG_SIDE = 512  # gallery pictures are shrunk to this long side (a lean run on 2 cores)
QUERY_QUALITY = 95


@dataclass(frozen=True)
class Item:
    name: str
    image: Image.Image


@dataclass(frozen=True)
class Query:
    """An edited copy of `sources[source]`: `edit` names the kind, `data` the JPEG bytes."""

    edit: str
    source: int
    data: bytes

    @property
    def image(self) -> Image.Image:
        """Decoded anew on each use (galleries hold thousands of queries)."""
        return Image.open(io.BytesIO(self.data)).convert("RGB")


@dataclass
class Gallery:
    name: str
    description: str
    sources: list[Item]
    distractors: list[Item]
    queries: list[Query] = field(default_factory=list)

    @property
    def items(self) -> list[Item]:
        """The gallery: the sources, then the distractors."""
        return self.sources + self.distractors


@dataclass(frozen=True)
class Plan:
    sources: int
    distractors: int | None  # None: every other picture of the kind


FULL = {"fashion": Plan(40, 400), "clipart": Plan(40, None), "wallpapers-abstract": Plan(8, None),
        "wallpapers-nature": Plan(8, None), "video-vtest": Plan(12, None), "video-megamind": Plan(8, None),
        "patches": Plan(30, None)}
QUICK = {"fashion": Plan(4, 40), "clipart": Plan(4, 40), "wallpapers-abstract": Plan(2, 10),
         "wallpapers-nature": Plan(2, 10), "video-vtest": Plan(2, 20), "video-megamind": Plan(2, 15),
         "patches": Plan(3, 40)}
BLANK_STD = 8.0  # a frame whose pixels vary less is blank (a fade), not a picture
VIDEO_STRIDE = {"video-vtest": 8, "video-megamind": 6}

# MATE's designs, one of each (Elephants ships in three sizes, the Ubuntu-MATE and Stripes
# designs in colour variants: twins would be copies, not negatives); Plasma's by family.
MATE_ABSTRACT = ("abstract/Elephants.jpg", "abstract/Flow.png", "abstract/Gulp.png", "abstract/Silk.png",
                 "abstract/Spring.png", "abstract/Waves.png", "desktop/Float-into-MATE.png",
                 "desktop/GreenTraditional.jpg", "desktop/Stripes.png", "desktop/MATE-Stripes-Dark.png",
                 "desktop/Ubuntu-Mate-Cold-no-logo.png")
PLASMA_ABSTRACT = ("Altai", "Canopee", "Cascade", "Cluster", "Elarun", "Flow", "FlyingKonqui", "Honeywave",
                   "IceCold", "Kay", "Kokkini", "MilkyWay", "Opal", "PastelHills", "Patak", "SafeLanding",
                   "Shell", "Volna")
PLASMA_PHOTOS = ("Autumn", "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
                 "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")
SKIMAGE_SCENES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry")
PATCH_GRID = (4, 3)  # columns, rows of a landscape photo (turned for a portrait one)
PATCH_PHOTO_SIDE = 1536  # photos are shrunk to this long side before tiling: 384 px tiles

# The Debian packages and splits the benchmark reads (docs/copies.md lists them; training
# a copy descriptor must use others).
SOURCES_USED = {
    "fashion": "dataset-fashion-mnist: t10k (test split) only",
    "clipart": "openclipart-png: png/animals only",
    "wallpapers": "mate-backgrounds (abstract, desktop, nature), plasma-workspace-wallpapers",
    "video": "opencv-doc: examples/data/vtest.avi, Megamind.avi",
    "patches": "mate-backgrounds (nature), plasma-workspace-wallpapers (photos), scikit-image's samples",
}


def blank(image: Image.Image) -> bool:
    """Whether the picture's grey levels vary less than BLANK_STD: a fade, a plain fill."""
    return bool(np.asarray(image.convert("L"), dtype=np.float32).std() < BLANK_STD)


def shrink(image: Image.Image, side: int = LONG_SIDE) -> Image.Image:
    return ImageOps.contain(image, (side, side), Image.Resampling.LANCZOS) if max(image.size) > side else image


def split(items: list[Item], plan: Plan) -> tuple[list[Item], list[Item]]:
    """Sources spread evenly over the items; distractors evenly over the rest. A picture
    met again (a symlink, a file shipped twice) is dropped: a twin is a copy, not a negative.
    So is a blank one (MATE's Silk and Flow flatten to plain white): two blank pictures are
    the same picture, and a copy of one is a copy of the other."""
    seen: set[str] = set()
    unique = []
    for item in items:
        digest = hashlib.sha256(item.image.tobytes()).hexdigest()
        if digest not in seen and not blank(item.image):
            seen.add(digest)
            unique.append(item)
    items = unique
    chosen = set(pick_evenly(range(len(items)), plan.sources))
    sources = [items[i] for i in sorted(chosen)]
    rest = [items[i] for i in range(len(items)) if i not in chosen]
    return sources, rest if plan.distractors is None else pick_evenly(rest, plan.distractors)


def fashion(plan: Plan) -> Gallery:
    images = read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
    order = np.argsort(labels, kind="stable")  # by class, so even picks cover every class alike

    def item(i: int) -> Item:
        shot = Image.fromarray(255 - images[i]).resize((224, 224), Image.Resampling.LANCZOS).convert("RGB")
        return Item(f"fashion-{labels[i]}-{i:05d}", shot)

    picks = pick_evenly(list(order), plan.sources + (plan.distractors or 400))
    step = max(1, len(picks) // plan.sources)
    source_ids = picks[::step][: plan.sources]
    chosen = set(source_ids)
    rest = [i for i in picks if i not in chosen][: plan.distractors]
    return Gallery("fashion", "Fashion-MNIST test split, 224 px product shots on white",
                   [item(i) for i in source_ids], [item(i) for i in rest])


def clipart(plan: Plan) -> Gallery:
    paths = sorted((CLIPART_DIR / "animals").rglob("*.png"))
    names = {p.stem for p in paths}
    # A black-and-white twin (NAME_bw_AUTHOR next to NAME_AUTHOR) is the grayscale copy of its colour one.
    paths = [p for p in paths if "_bw" not in p.stem or p.stem.replace("_bw", "") not in names]
    items = [Item(f"clipart-{p.parent.name}-{p.stem}", shrink(open_rgb(p), 384)) for p in paths]
    return Gallery("clipart", "openclipart animals, flattened on white", *split(items, plan))


def wallpapers(name: str, plan: Plan) -> Gallery:
    if name == "wallpapers-abstract":
        files = [("mate", MATE_DIR / f) for f in MATE_ABSTRACT]
        files += [("plasma", largest_wallpaper(PLASMA_DIR / f)) for f in PLASMA_ABSTRACT]
        description = "MATE and Plasma digital designs (smooth, abstract)"
    else:
        files = [("mate", p) for p in sorted((MATE_DIR / "nature").glob("*.jpg"))]
        files += [("plasma", largest_wallpaper(PLASMA_DIR / f)) for f in PLASMA_PHOTOS]
        description = "MATE's nature and Plasma's photo wallpapers"
    present = [(origin, path) for origin, path in files if path.is_file()]
    items = [Item(f"{origin}-{wallpaper_name(path)}", shrink(open_rgb(path))) for origin, path in present]
    return Gallery(name, description, *split(items, plan))


def wallpaper_name(path: Path) -> str:
    return path.parents[2].name if path.parent.name == "images" else path.stem


def video(name: str, plan: Plan) -> Gallery:
    import cv2

    file = {"video-vtest": "vtest.avi", "video-megamind": "Megamind.avi"}[name]
    capture = cv2.VideoCapture(str(OPENCV_DATA / file))
    frames, index = [], 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % VIDEO_STRIDE[name] == 0 and frame.std() >= BLANK_STD:  # never a black fade-in
                rgb = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                frames.append(Item(f"{name}-{index:04d}", shrink(rgb)))
            index += 1
    finally:
        capture.release()
    return Gallery(name, f"every {VIDEO_STRIDE[name]}th frame of opencv-doc's {file}", *split(frames, plan))


def patch_photos() -> list[tuple[str, Callable[[], Image.Image]]]:
    from lookalike.demo import sample_image

    photos: list[tuple[str, Callable[[], Image.Image]]] = [
        (f"mate-{p.stem}", lambda p=p: open_rgb(p)) for p in sorted((MATE_DIR / "nature").glob("*.jpg"))]
    photos += [(f"plasma-{f}", lambda f=f: open_rgb(largest_wallpaper(PLASMA_DIR / f))) for f in PLASMA_PHOTOS
               if (PLASMA_DIR / f).is_dir()]
    photos += [(f"skimage-{n}", lambda n=n: sample_image(n)) for n in SKIMAGE_SCENES]
    return photos


def tiles(name: str, photo: Image.Image) -> list[Item]:
    photo = shrink(photo, PATCH_PHOTO_SIDE)
    columns, rows = PATCH_GRID if photo.width >= photo.height else PATCH_GRID[::-1]
    if min(photo.size) < 600:  # a small sample (skimage's are 512 px): a 2 x 2 grid
        columns, rows = 2, 2
    width, height = photo.width // columns, photo.height // rows
    return [Item(f"patch-{name}-{r}{c}", photo.crop((c * width, r * height, (c + 1) * width, (r + 1) * height)))
            for r in range(rows) for c in range(columns)]


def patches(plan: Plan) -> Gallery:
    photos = patch_photos()
    if plan.distractors is not None:  # quick: fewer photos, decoding the large ones dominates
        photos = pick_evenly(photos, max(2, (plan.sources + plan.distractors) // 10))
    items = [tile for name, load in photos for tile in tiles(name, load())]
    return Gallery("patches", "non-overlapping tiles of wallpaper photos and scikit-image samples",
                   *split(items, plan))


GALLERY_NAMES = tuple(FULL)


def build_gallery(name: str, quick: bool = False, kinds: tuple[str, ...] = EDIT_KINDS) -> Gallery:
    """One gallery with its queries: every source edited by every kind in `kinds`."""
    plan = (QUICK if quick else FULL)[name]
    if name == "fashion":
        gallery = fashion(plan)
    elif name == "clipart":
        gallery = clipart(plan)
    elif name.startswith("wallpapers-"):
        gallery = wallpapers(name, plan)
    elif name.startswith("video-"):
        gallery = video(name, plan)
    else:
        gallery = patches(plan)
    for index, source in enumerate(gallery.sources):
        for kind in kinds:
            buffer = io.BytesIO()
            edited(source.image, kind, source.name).save(buffer, "JPEG", quality=QUERY_QUALITY)
            gallery.queries.append(Query(kind, index, buffer.getvalue()))
    return gallery


def build(data_dir: Path | None = None, quick: bool = False, names: tuple[str, ...] = GALLERY_NAMES) -> list[Gallery]:
    """Every gallery with its queries (`data_dir` is accepted for the benchmarks' common
    signature: the galleries are made from the installed packages, in memory)."""
    return [build_gallery(name, quick) for name in names]

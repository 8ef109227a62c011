"""A small gallery of real photos (scikit-image's bundled samples) plus edited copies.

    python -m lookalike.demo DEST

writes DEST/gallery (the collection: originals, one byte-identical copy, a few edited
copies, so `duplicates` has something to find) and DEST/queries (every named edit of a
few originals, to search with). Idempotent: existing files are left as they are.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .edits import EDITS, save_edit

# Real photographs and scans bundled with scikit-image (no download needed).
SAMPLES = (
    "astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "hubble_deep_field",
    "retina", "immunohistochemistry", "moon", "page", "horse", "brick", "grass", "gravel",
    "text", "cell", "motorcycle_left",
)
QUERY_SOURCES = ("astronaut", "chelsea", "coffee", "rocket")
GALLERY_EDITS = {"astronaut": "caption", "coffee": "grayscale", "rocket": "jpeg15"}


def sample_image(name: str) -> Image.Image:
    import skimage.data

    if name == "motorcycle_left":
        array = skimage.data.stereo_motorcycle()[0]
    else:
        array = getattr(skimage.data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = np.clip(array * (255.0 / max(float(array.max()), 1e-9)), 0, 255).astype(np.uint8)
    return Image.fromarray(array).convert("RGB")


def build_gallery(dest: Path) -> tuple[Path, Path]:
    gallery, queries = dest / "gallery", dest / "queries"
    gallery.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        path = gallery / f"{name}.png"
        if not path.exists():
            sample_image(name).save(path)
    copy = gallery / "chelsea-copy.png"
    if not copy.exists():
        shutil.copyfile(gallery / "chelsea.png", copy)
    for name, edit in GALLERY_EDITS.items():
        if not (gallery / f"{name}-{edit}.jpg").exists():
            save_edit(EDITS[edit](sample_image(name)), edit, gallery, name)
    for name in QUERY_SOURCES:
        original = sample_image(name)
        for edit_name, edit in EDITS.items():
            if not (queries / f"{name}-{edit_name}.jpg").exists():
                save_edit(edit(original), edit_name, queries, name)
    return gallery, queries


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0] if args else "demo-data")
    gallery, queries = build_gallery(dest)
    print(f"gallery: {gallery} ({len(list(gallery.iterdir()))} images); queries: {queries}")


if __name__ == "__main__":
    main()

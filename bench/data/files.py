"""Writing the prepared files atomically (a temporary name, then a rename), so that an
interrupted run leaves no half file and a re-run keeps every file that exists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PIL import Image

SOURCE_JPEG_QUALITY = 95  # as lookalike.edits.save_edit writes copies


def write_image(image: Image.Image, path: Path) -> Path:
    """Save atomically (temporary name, then rename): an interrupted run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".jpg":
        image.save(tmp, "JPEG", quality=SOURCE_JPEG_QUALITY)
    else:
        image.save(tmp, "PNG")
    os.replace(tmp, path)
    return path


def copy_file(original: Path, path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        shutil.copyfile(original, tmp)
        os.replace(tmp, path)
    return path

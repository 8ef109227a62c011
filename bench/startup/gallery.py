"""A small store of real photos in large files: scikit-image's samples enlarged to
LONG_SIDE pixels and saved as JPEGs, indexed with the default features by the `lookalike`
command. `info` and `remove` start on it, and `serve` makes its thumbnails from it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from lookalike.layout import Layout

LONG_SIDE = 4096  # a large photo: making its thumbnail means decoding megapixels
QUALITY = 90


def make_large_samples(folder: Path, count: int) -> list[Path]:
    """The first `count` of scikit-image's samples, LONG_SIDE pixels on their long side,
    as JPEGs (kept when they exist)."""
    from PIL import Image

    from lookalike.demo import SAMPLES, sample_image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SAMPLES[:count]:
        path = folder / f"{name}.jpg"
        paths.append(path)
        if path.exists():
            continue
        image = sample_image(name)
        scale = LONG_SIDE / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
        temporary = path.with_name(f".{path.name}.tmp")
        image.save(temporary, format="JPEG", quality=QUALITY)
        os.replace(temporary, path)
    return paths


def index_gallery(lookalike: list[str], db: Path, files: list[Path], env: dict[str, str]) -> None:
    """`lookalike --db DB index FILES...` (default features; a re-run skips unchanged files).
    The files, not their folder: a quick run's store holds only its own samples."""
    done = subprocess.run([*lookalike, "--db", str(db), "index", *map(str, files)], env=env, capture_output=True,
                          text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"indexing {db} failed: {done.stderr.strip()[-500:]}")


def copy_store(db: Path, to: Path) -> None:
    """A copy of the store at `db` (its catalog and its indexes) at `to`, replacing one
    there; nothing else (no thumbnails: `remove` deletes those of what it removes)."""
    remove_store(to)
    for suffix in ("", "-wal"):
        source = Path(f"{db}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{to}{suffix}")
    if Layout(db).indexes.exists():
        shutil.copytree(Layout(db).indexes, Layout(to).indexes)


def remove_store(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    layout = Layout(db)
    layout.lock.unlink(missing_ok=True)
    for folder in (layout.indexes, layout.thumbnails, layout.uploads):
        shutil.rmtree(folder, ignore_errors=True)

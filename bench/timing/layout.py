"""Where the speed and scale runs keep their stores and photos under the work folder."""

from __future__ import annotations

import shutil
from pathlib import Path

PHOTO_SETS = ("small", "large")  # the real photos the synthetic vectors are modelled on


def store_path(work: Path, size: int) -> Path:
    return work / "stores" / f"store-{size}.db"


def real_dbs(work: Path) -> list[Path]:
    """The stores of really indexed photos the synthetic vectors are modelled on."""
    return [work / f"{name}-default.db" for name in PHOTO_SETS]


def remove_store(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock", ".json"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(f"{db}.indexes", ignore_errors=True)


def stranger_photos(folder: Path) -> list[Path]:
    """scikit-image's sample photos as JPEGs: queries with no copy among the stored images."""
    from lookalike.demo import SAMPLES, sample_image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SAMPLES:
        path = folder / f"{name}.jpg"
        if not path.exists():
            sample_image(name).convert("RGB").save(path, quality=90)
        paths.append(path)
    return paths

"""The user's images for training: a folder read once into memory, and a held-out split.

Images are decoded with lookalike's own decoder (upright RGB, the same pixels indexing
sees) and kept at a bounded size, so augmentation is cheap and memory stays at roughly
200 KB per image. The split is deterministic (sorted files, a seeded generator): the same
folder and seed always hold out the same images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from ..decode import load_image
from ..errors import DecodeError
from ..scan import label_for, scan
from .errors import NotEnoughData

KEEP_SIDE = 256  # short side kept in memory: the backbone sees 224, the autoencoder less
Log = Callable[[str], None]


@dataclass
class ImageSet:
    """Decoded images with their paths and labels (None without --label-from)."""

    paths: list[str]
    labels: list[str | None]
    images: list[Image.Image]
    skipped: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labelled(self) -> bool:
        return any(label is not None for label in self.labels)

    def subset(self, rows: Sequence[int] | np.ndarray) -> "ImageSet":
        return ImageSet([self.paths[i] for i in rows], [self.labels[i] for i in rows],
                        [self.images[i] for i in rows], [])


def from_images(images: Sequence[Image.Image], labels: Sequence[str | None] | None = None) -> ImageSet:
    """An ImageSet from images already in memory (tests, benchmarks, the Python API)."""
    labels = list(labels) if labels is not None else [None] * len(images)
    return ImageSet([f"<image {i}>" for i in range(len(images))], labels,
                    [shrink(image.convert("RGB")) for image in images], [])


def load_folder(root: str | Path, label_from: str | None = None, max_images: int | None = None,
                log: Log | None = None) -> ImageSet:
    """Every image below `root` (at most `max_images`, spread evenly over the sorted files
    so every folder keeps its share); files that do not decode are skipped with their reason."""
    files = [record.path for record in scan([root])]
    if max_images is not None and len(files) > max_images:
        files = [files[i * len(files) // max_images] for i in range(max_images)]
    if log:
        log(f"reading {len(files)} images from {root}")
    paths, labels, images, skipped = [], [], [], []
    for path in files:
        try:
            image = load_image(path, min_side=KEEP_SIDE).image
        except DecodeError as exc:
            skipped.append((path, exc.reason))
            continue
        paths.append(path)
        labels.append(label_for(path, label_from))
        images.append(shrink(image))
    return ImageSet(paths, labels, images, skipped)


def shrink(image: Image.Image, side: int = KEEP_SIDE) -> Image.Image:
    """Scale down so the short side is at most `side` (never up)."""
    scale = side / min(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def group_ids(labels: Sequence[str | None]) -> np.ndarray:
    """One integer per image saying which images count as "the same": its label's index,
    or, for unlabelled images, a group of its own (only its own augmented views match it)."""
    known = sorted({label for label in labels if label is not None})
    index = {label: number for number, label in enumerate(known)}
    return np.array([index[label] if label is not None else len(known) + row
                     for row, label in enumerate(labels)], dtype=np.int64)


def holdout_split(labels: Sequence[str | None], fraction: float, seed: int,
                  by: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows), both sorted.

    by="label": whole labels are held out (the held-out items were never seen in training:
    the test for a shop adding new products). by="image": for labelled images, `fraction` of
    each label's images (labels with fewer than 4 images stay in training); for unlabelled
    ones, `fraction` of all images.
    """
    if not 0 < fraction < 1:
        raise ValueError("the held-out fraction must be between 0 and 1")
    rng = np.random.default_rng(seed)
    rows = np.arange(len(labels))
    groups = group_ids(labels)
    if by == "label":
        held = _held_out_labels(groups, fraction, rng)
    elif by == "image":
        held = _held_out_images(groups, labels, fraction, rng)
    else:
        raise ValueError(f"split by 'label' or 'image', not {by!r}")
    test = np.flatnonzero(held)
    if len(test) < 2 or len(test) == len(rows):
        raise NotEnoughData(f"cannot hold out {fraction:.0%} of {len(rows)} images by {by} and keep both "
                            "parts non-empty: add images, or change --holdout")
    return rows[~held], test


def _held_out_labels(groups: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    distinct = np.unique(groups)
    rng.shuffle(distinct)
    held = np.zeros(len(groups), dtype=bool)
    for group in distinct:
        if held.mean() >= fraction:
            break
        held |= groups == group
    return held


def _held_out_images(groups: np.ndarray, labels: Sequence[str | None], fraction: float,
                     rng: np.random.Generator) -> np.ndarray:
    held = np.zeros(len(groups), dtype=bool)
    unlabelled = np.array([label is None for label in labels], dtype=bool)
    loose = np.flatnonzero(unlabelled)
    held[rng.permutation(loose)[: round(fraction * len(loose))]] = True
    for group in np.unique(groups[~unlabelled]):
        members = np.flatnonzero(groups == group)
        if len(members) >= 4:
            held[rng.permutation(members)[: max(2, round(fraction * len(members)))]] = True
    return held

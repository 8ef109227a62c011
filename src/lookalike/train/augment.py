"""Random edits that make training views of an image: what a copy goes through before it
resurfaces (the edits of `lookalike.edits`, drawn at random strengths).

A learned feature becomes invariant to what its positive pairs differ by, so the views
cover what lookalike's copy detection must survive: rotation by ANY angle (not only
quarter turns), crops, mirroring, colour changes, JPEG recompression, blur and rescaling.
Every draw comes from the caller's numpy Generator, so a seed fixes every view.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image, ImageFilter

from ..edits import crop, enhance, grayscale, jpeg, rotate, scale

Augmentation = Callable[[Image.Image, np.random.Generator], Image.Image]


def random_rotation(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Any angle; the corners a turn uncovers are white (as edits.rotate), or cropped away."""
    angle = float(rng.uniform(0, 360))
    turned = rotate(angle)(image)
    if rng.random() < 0.5:
        return turned
    spread = abs(np.cos(np.radians(angle))) + abs(np.sin(np.radians(angle)))
    return crop(float(1 / spread**2))(turned)  # the part of the canvas the picture fills (square case)


def random_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    fraction = float(rng.uniform(0.55, 0.95))
    return crop(fraction, (float(rng.random()), float(rng.random())))(image)


def random_flip(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    turn = Image.Transpose.FLIP_LEFT_RIGHT if rng.random() < 0.7 else Image.Transpose.FLIP_TOP_BOTTOM
    return image.transpose(turn)


def random_colour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    if rng.random() < 0.15:
        return grayscale(image)
    return enhance(brightness=float(rng.uniform(0.65, 1.35)), contrast=float(rng.uniform(0.65, 1.35)),
                   saturation=float(rng.uniform(0.3, 1.6)))(image)


def random_blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    radius = float(rng.uniform(0.5, 2.0)) * min(image.size) / 256
    return image.filter(ImageFilter.GaussianBlur(radius))


def random_jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return jpeg(int(rng.integers(10, 80)))(image)


def random_downscale(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    factor = float(rng.uniform(0.2, 0.6))
    if min(image.size) * factor < 16:
        return image
    return scale(factor)(image)


# (augmentation, probability), applied in this order.
AUGMENTATIONS: tuple[tuple[Augmentation, float], ...] = (
    (random_crop, 0.6),
    (random_rotation, 0.5),
    (random_flip, 0.5),
    (random_colour, 0.6),
    (random_blur, 0.25),
    (random_downscale, 0.3),
    (random_jpeg, 0.5),
)


def random_view(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One randomly edited copy of `image` (at least one edit is always applied)."""
    chosen = [augment for augment, probability in AUGMENTATIONS if rng.random() < probability]
    if not chosen:
        chosen = [AUGMENTATIONS[int(rng.integers(len(AUGMENTATIONS)))][0]]
    for augment in chosen:
        image = augment(image, rng)
    return image.convert("RGB")


def views_of(images: list[Image.Image], count: int, rng: np.random.Generator) -> list[list[Image.Image]]:
    """For each image: itself (as indexing sees it) followed by `count` random views."""
    return [[image] + [random_view(image, rng) for _ in range(count)] for image in images]

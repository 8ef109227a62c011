"""Small generated data sets for the training tests: sample photos with edited copies,
and patches of scikit-image's texture photos (brick, grass, gravel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from lookalike.demo import sample_image
from lookalike.edits import EDITS, save_edit

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "horse", "moon", "page", "retina")
TEXTURES = ("brick", "grass", "gravel")
PATCHES = 8
PATCH_SIDE = 128
SMALL = 160  # photos are shrunk to this: the tests measure mechanics, not accuracy


def small_photo(name: str) -> Image.Image:
    image = sample_image(name)
    image.thumbnail((SMALL, SMALL))
    return image


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PHOTO-original.png for ten photos (unlabelled training: each is its own item)."""
    folder = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        small_photo(name).save(folder / f"{name}-original.png")
    return folder


@pytest.fixture(scope="session")
def labelled_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sub-folder per photo holding it and three edited copies (--label-from folder)."""
    root = tmp_path_factory.mktemp("labelled")
    for name in PHOTOS[:8]:
        photo = small_photo(name)
        (root / name).mkdir()
        photo.save(root / name / "original.png")
        for edit in ("rot90", "crop80", "grayscale"):
            save_edit(EDITS[edit](photo), edit, root / name, name)
    return root


def texture_patches(name: str, count: int = PATCHES) -> list[Image.Image]:
    """`count` patches on a grid over the texture photo, every third one turned a quarter,
    histogram-equalised so that brightness and contrast give nothing away."""
    photo = ImageOps.equalize(sample_image(name).convert("L"))
    steps = np.linspace(0, min(photo.size) - PATCH_SIDE, 3).astype(int)
    corners = [(int(x), int(y)) for y in steps for x in steps][:count]
    patches = []
    for index, (x, y) in enumerate(corners):
        patch = photo.crop((x, y, x + PATCH_SIDE, y + PATCH_SIDE))
        if index % 3 == 2:
            patch = patch.transpose(Image.Transpose.ROTATE_90)
        patches.append(patch.convert("RGB"))
    return patches


@pytest.fixture(scope="session")
def texture_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TEXTURE/TEXTURE-NN.png: 8 patches of each of brick, grass and gravel."""
    root = tmp_path_factory.mktemp("textures")
    for name in TEXTURES:
        (root / name).mkdir()
        for index, patch in enumerate(texture_patches(name)):
            patch.save(root / name / f"{name}-{index:02d}.png")
    return root

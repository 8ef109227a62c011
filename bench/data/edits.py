"""The edit kinds of the near-duplicate queries: `lookalike.edits`' named edits plus the
ones the issues ask for on top (crops and pastes anywhere, more compression, thumbnails)."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from math import sqrt

from PIL import Image, ImageOps

from lookalike.edits import EDITS, Edit, caption, chain, crop, enhance, grayscale, jpeg, rotate

from .photos import source_photos


def thumbnail(long_side: int) -> Edit:
    """Shrink so the long side is `long_side` px (a preview or chat thumbnail)."""

    def shrink(image: Image.Image) -> Image.Image:
        return ImageOps.contain(image, (long_side, long_side), Image.Resampling.LANCZOS)

    return shrink


def flip(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def identity(image: Image.Image) -> Image.Image:
    return image


def area_crop(area: float, anchor: tuple[float, float] = (0.5, 0.5)) -> Edit:
    """Keep `area` of the picture (each side scaled by its square root), placed at `anchor`."""
    return crop(sqrt(area), anchor)


@dataclass(frozen=True)
class Anywhere:
    """A crop or a paste whose position is drawn per source photo (seeded by its name), so
    the copies of different photos are cut at different places, the same ones every run."""

    area: float  # share of the source's area kept
    paste: bool = False  # pasted into a host photo that is not in the gallery

    def anchors(self, name: str) -> tuple[tuple[float, float], tuple[float, float]]:
        """Where to cut in the source and where to paste in the host, as 0..1 fractions."""
        rng = random.Random(zlib.crc32(f"{name}/{self.area}/{self.paste}".encode()))
        return (rng.random(), rng.random()), (rng.random(), rng.random())

    def apply(self, image: Image.Image, name: str) -> Image.Image:
        cut_at, paste_at = self.anchors(name)
        cut = area_crop(self.area, cut_at)(image)
        if not self.paste:
            return cut
        hosts = [photo for photo in source_photos() if photo.name in PASTE_HOSTS]
        host = hosts[zlib.crc32(name.encode()) % len(hosts)].load()
        return paste_into(host, cut, paste_at)


PASTE_HOSTS = ("opencv-home", "opencv-building", "mate-Garden", "mate-Storm", "plasma-Path", "plasma-Autumn")
HOST_SIDE = 1280
PASTE_COVER = 0.3  # share of the host's area the pasted cut covers


def paste_into(host: Image.Image, cut: Image.Image, anchor: tuple[float, float]) -> Image.Image:
    """`cut` scaled to cover PASTE_COVER of the host (shrunk to HOST_SIDE), pasted at `anchor`."""
    host = ImageOps.contain(host, (HOST_SIDE, HOST_SIDE), Image.Resampling.LANCZOS)
    factor = min(sqrt(PASTE_COVER * host.width * host.height / (cut.width * cut.height)),
                 host.width / cut.width, host.height / cut.height)
    cut = cut.resize((max(1, round(cut.width * factor)), max(1, round(cut.height * factor))),
                     Image.Resampling.LANCZOS)
    left = round((host.width - cut.width) * anchor[0])
    top = round((host.height - cut.height) * anchor[1])
    host.paste(cut, (left, top))
    return host


# Table order: exact, turns, crops and pastes, compression and scale, colour, overlays,
# combinations. Names ending in a number without "area": that share of each side is kept
# (lookalike.edits' names); "area": that share of the picture's area.
EDIT_KINDS: dict[str, Edit | Anywhere] = {
    "exact": identity,  # a byte-identical copy of the source file (see write_query)
    "rot90": EDITS["rot90"],
    "rot180": EDITS["rot180"],
    "rot270": EDITS["rot270"],
    "rot5": EDITS["rot5"],
    "rot-10": rotate(-10),
    "mirror": EDITS["mirror"],
    "flip": flip,
    "crop80": EDITS["crop80"],
    "crop70-corner": EDITS["crop70-corner"],  # 49% of the area, bottom-left corner
    "crop-area50-centre": area_crop(0.5),
    "crop-area50-any": Anywhere(0.5),
    "crop-area30-centre": area_crop(0.3),
    "crop-area30-any": Anywhere(0.3),
    "crop-area25-corner": area_crop(0.25, (1.0, 0.0)),
    "paste-area50": Anywhere(0.5, paste=True),
    "jpeg15": EDITS["jpeg15"],
    "jpeg10": jpeg(10),
    "downscale25": EDITS["downscale25"],
    "thumb160": thumbnail(160),
    "grayscale": EDITS["grayscale"],
    "brighter": EDITS["brighter"],
    "darker": enhance(brightness=0.7, contrast=0.8),
    "recolour": EDITS["recolour"],
    "border": EDITS["border"],
    "caption": EDITS["caption"],
    "crop80-jpeg20-downscale50": EDITS["crop80-jpeg20-downscale50"],
    "rot90-grayscale-jpeg20": chain(EDITS["rot90"], grayscale, jpeg(20)),
    "mirror-caption-brighter": chain(EDITS["mirror"], caption(), enhance(brightness=1.3, contrast=1.2)),
}
# Issue 7's targets: crops keeping half the picture, wherever they are cut.
HALF_CROPS = ("crop70-corner", "crop-area50-centre", "crop-area50-any")
# Edits only local features can be expected to find (the rest must lose nothing to them).
LOCAL_EDITS = HALF_CROPS + ("crop-area30-centre", "crop-area30-any", "crop-area25-corner", "paste-area50")

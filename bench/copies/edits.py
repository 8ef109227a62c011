"""The copy benchmark's edit kinds: every `lookalike.edits.EDITS` edit plus the ones issue 15
adds (half-area crops at a corner, white and black borders, letterboxing, a screenshot of a
window, JPEG q20). Positions are seeded by the source's name, the same every run."""

from __future__ import annotations

import random
import zlib

from PIL import Image

from lookalike.edits import EDITS, Edit, border, jpeg, letterbox, screenshot

from ..data.edits import area_crop

CORNERS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))

ADDED: dict[str, Edit] = {
    "border-white10": border(0.10, "white"),
    "border-black10": border(0.10, "black"),
    "letterbox": letterbox(),
    "screenshot": screenshot(),
    "jpeg20": jpeg(20),
}
SEEDED = ("crop50-corner",)  # edits whose position is drawn per source
EDIT_KINDS: tuple[str, ...] = (*EDITS, *SEEDED, *ADDED)


def corner_crop(name: str) -> Edit:
    """Keep half the area at a corner drawn from the source's name."""
    corner = random.Random(zlib.crc32(f"{name}/crop50-corner".encode())).choice(CORNERS)
    return area_crop(0.5, corner)


def edited(image: Image.Image, kind: str, name: str) -> Image.Image:
    """`image` (the source called `name`) edited by `kind`, as RGB."""
    if kind == "crop50-corner":
        edit = corner_crop(name)
    else:
        edit = EDITS.get(kind) or ADDED[kind]
    return edit(image).convert("RGB")

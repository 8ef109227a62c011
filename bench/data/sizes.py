"""How much of everything to prepare and measure: `FULL` and `QUICK`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

from .edits import EDIT_KINDS

T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    """How much of everything to prepare and measure."""

    sources: int  # real photos in the gallery
    query_sources: int  # of those, how many have their edited copies as queries
    edits: tuple[str, ...]
    clipart: int
    stamps: int
    pairs: int
    fashion_gallery: int
    fashion_queries: int
    textures: int
    patches_per_texture: int

    @property
    def distractors(self) -> int:
        return self.clipart + self.stamps


# Sized for ~40 minutes on 2 shared cores (the whole run, every method; lookalike's search of
# a 1,600-px query with and without keypoint verification is most of it). The Fashion-MNIST
# gallery is the first half of the 10,000-image test split: lookalike indexes an image in
# ~50 ms (its LBP alone ~37 ms, on the 28 x 28 image upscaled to 256 px) and every method
# indexes the gallery, so the whole split adds ~10 minutes; set fashion_gallery=10_000 for it.
FULL = Size(
    sources=100, query_sources=30, edits=tuple(EDIT_KINDS), clipart=800, stamps=200, pairs=11,
    fashion_gallery=5_000, fashion_queries=300, textures=9, patches_per_texture=10,
)
QUICK = Size(
    sources=4, query_sources=2,
    edits=("exact", "rot90", "mirror", "crop-area50-any", "crop-area30-any", "paste-area50", "jpeg10", "grayscale"),
    clipart=16, stamps=4, pairs=2, fashion_gallery=60, fashion_queries=6, textures=3, patches_per_texture=4,
)


def pick_evenly(items: Sequence[T], count: int) -> list[T]:
    """`count` items spread evenly over `items` (all of them if there are fewer)."""
    if count >= len(items):
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]

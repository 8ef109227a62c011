"""Second-stage re-rankers: given the first stage's scored candidates, reorder or rescore
them with costlier evidence (a texture classifier, keypoint verification). Each runs only
on the short candidate list, so queries stay fast.

A stage is enabled by name (`Settings.rerank`, `lookalike search --rerank NAME`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Callable, Sequence

from ..errors import LookalikeError

if TYPE_CHECKING:
    from PIL import Image

    from ..query import QueryImage
    from ..records import Comparison, ImageRecord, Match
    from ..runtime import Runtime
    from ..settings import Settings
    from ..store import Store


KEYPOINTS_STAGE = "keypoints"  # the stage that verifies crops and other views (rerank/keypoints/)
CONTEST_STAGE = "contest"  # verifies candidates contesting the best copy's place (rerank/keypoints/contest.py)


class Reranker(ABC):
    """`query_min_side`: the short side a stage needs an image decoded with, the query at
    search time and new images at indexing when the stage describes them (`on_index`):
    decoding keeps the largest of the features' and the stages' needs, since JPEG draft
    decoding may otherwise hand over a much smaller picture. The hooks (`prepare`,
    `on_index`, `on_remove`, `compare`) do nothing unless a stage needs them."""

    name: str
    query_min_side: int = 0

    def prepare(self, store: "Store", query: "QueryImage") -> None:
        """Called once per search with the decoded query, before any stage re-ranks."""

    def on_index(self, images: Sequence[tuple[str, "Image.Image", tuple[int, int]]]) -> None:
        """New images were stored, as (content hash, decoded image, original (width, height)):
        describe them now if the stage keeps something per image."""

    def on_remove(self, records: Sequence["ImageRecord"]) -> None:
        """These images left the collection: forget what the stage kept for them."""

    def compare(self, first: "Image.Image", second: "Image.Image", result: "Comparison",
                settings: "Settings") -> "Comparison":
        """`compare`'s result for two decoded images, re-judged with this stage's evidence."""
        return result

    def wants_parts(self, matches: list["Match"]) -> bool:
        """Whether this stage, given the first stage's matches, wants candidates proposed by
        windows of the query too (a stored picture pasted into the query: see
        `lookalike.query_parts`); by default not."""
        return False

    @abstractmethod
    def rerank(self, store: "Store", query: "QueryImage", matches: list["Match"]) -> list["Match"]:
        """Return the matches re-scored and re-sorted (best first); may add evidence."""


# name -> factory: a stage is made per search (or per indexing run) with the collection's
# runtime, which holds what the stage keeps between calls (`Runtime.state`).
_STAGES: dict[str, Callable[["Runtime"], Reranker]] = {}


def register_reranker(name: str) -> Callable[[Callable[["Runtime"], Reranker]], Callable[["Runtime"], Reranker]]:
    def register(factory: Callable[["Runtime"], Reranker]) -> Callable[["Runtime"], Reranker]:
        _STAGES[name] = factory
        return factory

    return register


def _load_builtin_stages() -> None:
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def reranker_names() -> list[str]:
    _load_builtin_stages()
    return sorted(_STAGES)


def get_rerankers(names: Sequence[str], runtime: "Runtime") -> list[Reranker]:
    """The stages called `names`, made for the collection whose runtime is `runtime`."""
    _load_builtin_stages()
    unknown = [name for name in names if name not in _STAGES]
    if unknown:
        raise LookalikeError(f"unknown re-ranking stage {unknown[0]!r}; known: {', '.join(sorted(_STAGES)) or 'none'}")
    return [_STAGES[name](runtime) for name in names]

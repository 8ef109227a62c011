"""The contest stage (`contest`, on by default: `Settings.rerank`): when other candidates
contest the best match's place as the query's copy (`scoring.contenders`: the next frames
of a video, the shots of a burst, the tiles of one photo), verify just those with keypoints
and settle the contest by pixel agreement (`alignment`), as the keypoint stage does on its
longer list. A query with one clear copy, or none, costs nothing more; the stored images'
keypoints are described on first need (and kept in the keypoint cache), not at indexing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .. import CONTEST_STAGE, register_reranker
from .stage import KeypointReranker, contest_of

if TYPE_CHECKING:
    from PIL import Image

    from ...records import Match


@register_reranker(CONTEST_STAGE)
class ContestReranker(KeypointReranker):
    name = CONTEST_STAGE
    # The query is described as the features decoded it (no larger decoding for every search
    # on the chance of a contest), and new images are not decoded larger at indexing.
    query_min_side = 0

    def wants_parts(self, matches: list["Match"]) -> bool:
        return False

    def on_index(self, images: Sequence[tuple[str, "Image.Image", tuple[int, int]]]) -> None:
        """Nothing: only contested candidates are ever described, when first contested."""

    def _to_verify(self, matches: list["Match"], min_near_duplicate: float) -> tuple[list[int], list[int], list[int]]:
        return contest_of(matches, min_near_duplicate), [], []

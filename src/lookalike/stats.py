"""Where a search or a duplicate scan spends its time, for a caller that asks.

    stats = SearchStats()
    collection.search("query.jpg", stats=stats)
    print(stats.features_seconds, stats.candidates, stats.turned)

A call given a stats object adds its figures to it (a fresh object per call reads that
call alone; one object passed to several calls holds their sums). Without one nothing is
timed: the stages run as they always do.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, ContextManager, Iterator

if TYPE_CHECKING:
    from .query import QueryFeatures


class _Stages:
    """Stage timings are the fields named STAGE_seconds."""

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            field = f"{stage}_seconds"
            setattr(self, field, getattr(self, field) + time.perf_counter() - started)


def timed(stats: _Stages | None, stage: str) -> ContextManager[None]:
    """Add the block's wall time to `stats`' STAGE_seconds; no clock read without stats."""
    return nullcontext() if stats is None else stats.timing(stage)


@dataclass
class SearchStats(_Stages):
    """Filled by `search(..., stats=)` (see `lookalike.search` for the stages)."""

    decode_seconds: float = 0.0  # reading and decoding the query
    features_seconds: float = 0.0  # the query's features, upright and (when turned) the turned CNN
    candidates_seconds: float = 0.0  # candidate searches in the hash, embedding and region indexes
    scoring_seconds: float = 0.0  # the candidates' stored vectors read, similarities fused, part evidence
    rerank_seconds: float = 0.0  # the second-stage re-rankers (`rerank=`)
    searches: int = 0
    turned: int = 0  # searches whose upright answer left doubt, so the CNN ran on the turned query too
    candidates: int = 0  # candidates scored exactly (before the windows' and re-rankers' own)
    features: "QueryFeatures | None" = None  # the query's features the last search scored with


@dataclass
class DuplicateStats(_Stages):
    """Filled by `find_duplicates(..., stats=)` (see `lookalike.dedup` for the stages)."""

    candidates_seconds: float = 0.0  # the index scans proposing pairs
    scoring_seconds: float = 0.0  # exact scores from the stored vectors (screen survivors, weakest links)
    candidate_pairs: int = 0  # pairs the index scans proposed, before the screen
    scored_pairs: int = 0  # pairs scored exactly

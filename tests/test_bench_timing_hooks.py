"""The timing hooks the speed benchmark reads (`lookalike.stats`): a search or a duplicate
scan given a stats object fills it, and gives the same answer as without one."""

from __future__ import annotations

from pathlib import Path

from lookalike import Collection, Settings
from lookalike.stats import DuplicateStats, SearchStats


def test_search_fills_its_stats_and_answers_the_same(embedded_settings: Settings, gallery: Path,
                                                     queries: Path) -> None:
    query = queries / "astronaut-rot90.jpg"
    with Collection(settings=embedded_settings) as collection:
        collection.index([gallery])
        stats = SearchStats()
        timed = collection.search(query, k=5, stats=stats)
        plain = collection.search(query, k=5)
    assert [(m.image.id, m.score) for m in timed] == [(m.image.id, m.score) for m in plain]
    assert stats.searches == 1 and stats.candidates >= len(timed) > 0
    for stage in ("decode", "features", "candidates", "scoring"):
        assert getattr(stats, f"{stage}_seconds") > 0, stage
    assert stats.rerank_seconds >= 0
    assert stats.features is not None and set(stats.features.vectors) == set(embedded_settings.features)


def test_one_stats_object_sums_several_searches(embedded_settings: Settings, gallery: Path, queries: Path) -> None:
    with Collection(settings=embedded_settings) as collection:
        collection.index([gallery])
        stats, first = SearchStats(), SearchStats()
        collection.search(queries / "coffee-crop80.jpg", stats=first)
        collection.search(queries / "coffee-crop80.jpg", stats=stats)
        collection.search(queries / "chelsea-jpeg15.jpg", stats=stats)
    assert stats.searches == 2 and stats.candidates > first.candidates
    assert 0 <= stats.turned <= 2


def test_duplicates_fill_their_stats_and_find_the_same_groups(embedded_settings: Settings, gallery: Path) -> None:
    with Collection(settings=embedded_settings) as collection:
        collection.index([gallery])
        stats = DuplicateStats()
        timed = collection.duplicates(stats=stats)
        plain = collection.duplicates()
    assert [[i.id for i in g.images] for g in timed] == [[i.id for i in g.images] for g in plain]
    assert stats.candidate_pairs > 0 and stats.scored_pairs > 0
    assert stats.candidates_seconds > 0 and stats.scoring_seconds > 0

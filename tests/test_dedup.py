"""Duplicate groups and nearest-neighbour export over a real gallery."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from lookalike import Collection, Settings
from lookalike.dedup import find_duplicates, reach_level, score_pairs
from lookalike.features.base import pair_similarity
from lookalike.scoring import calibrate


def group_names(collection: Collection) -> list[set[str]]:
    return [{Path(p).name for image in g.images for p in image.paths} for g in collection.duplicates()]


def test_duplicate_groups_of_the_gallery(hash_collection: Collection, gallery: Path) -> None:
    hash_collection.index([gallery])
    groups = group_names(hash_collection)
    assert sorted(groups, key=sorted) == sorted(
        [
            {"astronaut.png", "astronaut-caption.jpg"},
            {"chelsea.png", "chelsea-copy.png"},
            {"coffee.png", "coffee-grayscale.jpg"},
            {"rocket.png", "rocket-jpeg15.jpg"},
        ],
        key=sorted,
    )


def test_groups_report_their_weakest_pairwise_link(hash_collection: Collection, gallery: Path, queries: Path) -> None:
    hash_collection.index([gallery])
    hash_collection.add([queries / "coffee-jpeg15.jpg", queries / "coffee-brighter.jpg", queries / "coffee-mirror.jpg"])
    (coffee,) = [g for g in hash_collection.duplicates() if any(i.path.endswith("coffee.png") for i in g.images)]
    ids = [image.id for image in coffee.images]
    pairs = np.array([(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]], dtype=np.int64)
    assert coffee.weakest_link == min(score_pairs(hash_collection.store, pairs))
    assert len(coffee.images) == 4  # the mirrored copy is no duplicate without orientation search
    stricter = hash_collection.duplicates(min_score=0.99)
    assert all(len(g.images) == 1 for g in stricter)  # only the byte-identical chelsea files


def test_no_duplicates_in_distinct_photos(hash_settings: Settings, gallery: Path) -> None:
    with Collection(settings=hash_settings) as collection:
        collection.index([gallery / name for name in ("moon.png", "horse.png", "coins.png", "text.png")])
        assert collection.duplicates() == []


def test_neighbours_of_every_image(hash_collection: Collection, gallery: Path) -> None:
    hash_collection.index([gallery])
    items = list(hash_collection.neighbors(k=3))
    assert len(items) == hash_collection.info().images
    for item in items:
        assert len(item.neighbours) == 3
        assert item.image.id not in {n.image.id for n in item.neighbours}
        scores = [n.score for n in item.neighbours]
        assert scores == sorted(scores, reverse=True)
    astronaut = next(i for i in items if i.image.path and i.image.path.endswith("astronaut.png"))
    assert astronaut.neighbours[0].image.path.endswith("astronaut-caption.jpg")
    assert json.loads(json.dumps(astronaut.to_dict()))["neighbors"][0]["score"] > 0.8


def test_scan_over_compressed_indexes_finds_the_exhaustive_groups(embedded_settings: Settings, gallery: Path, queries: Path) -> None:
    """The scan (a few nearest neighbours per image, IVF cells) and every pair within
    reach (range searches over exact indexes) give the same groups on real photos."""
    edited = [queries / name for name in ("coffee-jpeg15.jpg", "coffee-brighter.jpg", "astronaut-jpeg15.jpg")]
    approximate = replace(embedded_settings, max_exact_vectors=8)
    found = []
    for settings in (embedded_settings, approximate):
        with Collection(settings=settings) as collection:
            collection.index([gallery])
            collection.add(edited)
            kinds = {index.approximate for index in collection.store.indexes.values()}
            assert kinds == {settings is approximate}
            found.append({frozenset(i.id for i in g.images) for g in find_duplicates(collection.store)})
            exhaustive = {frozenset(i.id for i in g.images) for g in find_duplicates(collection.store, exhaustive=True)}
            assert found[-1] == exhaustive
    assert found[0] == found[1] and len(found[0]) >= 4


def test_reach_level_loses_no_pair(full_collection: Collection) -> None:
    """Every pair at or above the threshold has a copy detector at or above reach_level."""
    store = full_collection.store
    threshold = store.settings.min_near_duplicate_score
    ids = np.asarray(store.image_ids(), dtype=np.int64)
    left, right = np.triu_indices(len(ids), k=1)
    pairs = np.stack([ids[left], ids[right]], axis=1)
    scores = score_pairs(store, pairs)
    level = reach_level(store, threshold)
    best = np.zeros(len(pairs))
    for spec in map(store.spec, store.candidate_features()):
        raw = pair_similarity(spec, store.vectors(spec.name, pairs[:, 0].tolist()), store.vectors(spec.name, pairs[:, 1].tolist()))
        best = np.maximum(best, calibrate(spec, raw))
    assert (scores >= threshold).any()
    assert np.all(best[scores >= threshold] >= level - 1e-9)
    assert level > threshold - 0.15  # tighter than a fixed slack: fewer candidates to re-score

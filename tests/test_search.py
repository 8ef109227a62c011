"""Search and compare on real photos with every default feature (CNN included)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from lookalike import Collection, compare
from lookalike.demo import QUERY_SOURCES
from lookalike.edits import EDITS


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("source", QUERY_SOURCES)
def test_every_edit_kind_is_found_at_rank_1(full_collection: Collection, queries: Path, source: str, edit: str) -> None:
    matches = full_collection.search(queries / f"{source}-{edit}.jpg", k=5)
    assert matches[0].image.label == source, [(m.image.path, round(m.score, 3)) for m in matches]
    assert matches[0].tier in ("exact", "near-duplicate")


@pytest.mark.parametrize("edit", ["rot90", "rot180", "rot270", "mirror"])
def test_rotated_and_mirrored_copies_are_near_duplicates(full_collection: Collection, queries: Path, edit: str) -> None:
    (best, *_) = full_collection.search(queries / f"chelsea-{edit}.jpg", k=1)
    assert best.image.label == "chelsea"
    assert best.tier == "near-duplicate"
    assert best.orientation != "original"
    assert best.score > 0.9


def test_exact_copy_is_exact(full_collection: Collection, gallery: Path) -> None:
    (best, *_) = full_collection.search(gallery / "chelsea.png", k=1)
    assert best.tier == "exact"
    assert best.score == pytest.approx(1.0)
    assert {Path(p).name for p in best.image.paths} == {"chelsea.png", "chelsea-copy.png"}


def test_same_pixels_in_another_file_are_exact(full_collection: Collection, gallery: Path, tmp_path: Path) -> None:
    resaved = tmp_path / "horse.bmp"  # other bytes, same picture
    Image.open(gallery / "horse.png").convert("RGB").save(resaved)
    (best, *_) = full_collection.search(resaved, k=1)
    assert best.image.label == "horse"
    assert best.tier == "exact"


def test_results_are_ranked_scored_and_cut(full_collection: Collection, queries: Path) -> None:
    matches = full_collection.search(queries / "coffee-jpeg15.jpg", k=8)
    assert len(matches) == 8
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert matches[-1].tier == "similar"
    strict = full_collection.search(queries / "coffee-jpeg15.jpg", k=8, min_score=0.9)
    assert 1 <= len(strict) < 8 and all(m.score >= 0.9 for m in strict)


def test_search_accepts_bytes(full_collection: Collection, queries: Path) -> None:
    (best, *_) = full_collection.search((queries / "rocket-grayscale.jpg").read_bytes(), k=1)
    assert best.image.label == "rocket"


def test_compare_different_photos(gallery: Path) -> None:
    result = compare(gallery / "chelsea.png", gallery / "coffee.png")
    assert result.verdict == "different"
    assert result.tier == "similar"
    assert result.score < result.threshold


@pytest.mark.parametrize("edit", ["jpeg15", "rot90", "grayscale", "crop80", "caption"])
def test_compare_edited_copy_is_same(gallery: Path, queries: Path, edit: str) -> None:
    result = compare(queries / f"astronaut-{edit}.jpg", gallery / "astronaut.png")
    assert result.verdict == "same", result
    assert result.score >= result.threshold


def test_compare_identical_files_is_exact(gallery: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.png"
    shutil.copyfile(gallery / "moon.png", copy)
    result = compare(gallery / "moon.png", copy)
    assert (result.verdict, result.tier, round(result.score, 6)) == ("same", "exact", 1.0)

"""Search and compare on real photos with every default feature (CNN included)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from lookalike import Collection, compare
from lookalike.demo import QUERY_SOURCES, sample_image
from lookalike.edits import EDITS, border, crop


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


class CnnPasses:
    """Counts the images a collection's CNN extractor is run on (the real extractor runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, collection: Collection) -> None:
        self.images = 0
        extractor = collection.store.runtime.extractor("effnet_lite0")
        original = extractor._extract

        def counted(images: list[Image.Image]):  # type: ignore[no-untyped-def]
            self.images += len(images)
            return original(images)

        monkeypatch.setattr(extractor, "_extract", counted)


def _ranked(matches: list) -> list[tuple[str | None, str, str]]:  # type: ignore[type-arg]
    return [(m.image.label, m.tier, m.orientation) for m in matches]


# Edits of a photo that turn nothing, whose best turned orientation used to outscore upright
# by chance (hashes near 0.5 in every orientation) and was reported: "query rotated 180"
# for a crop, "mirrored" for a framed copy (and "transposed" for a framed copy turned by 90).
CROPS = {"moon-crop30": ("moon", crop(0.3**0.5, (0.2, 0.7))), "horse-crop20": ("horse", crop(0.2**0.5, (0.0, 0.0))),
         "chelsea-crop20": ("chelsea", crop(0.2**0.5, (0.0, 0.0)))}
FRAMES = {"coffee-frame30": ("coffee", border(0.3, "black")), "rocket-frame30": ("rocket", border(0.3, "black")),
          "coins-frame20": ("coins", border(0.2))}


def rot90(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.ROTATE_90)


@pytest.mark.parametrize("name", [*CROPS, *FRAMES])
def test_crops_and_framed_copies_are_not_reported_turned(
    full_collection: Collection, gallery: Path, tmp_path: Path, name: str
) -> None:
    """A turn is reported only where the features that see it vouch for it; the photo truly
    turned still is (a framed copy turned too)."""
    source, edit = {**CROPS, **FRAMES}[name]
    query, turned = tmp_path / f"{name}.jpg", tmp_path / f"{name}-rot90.jpg"
    edit(sample_image(source)).save(query, quality=90)
    (edit if name in FRAMES else lambda image: image)(rot90(sample_image(source))).save(turned, quality=90)
    matches = full_collection.search(query, k=5)
    assert matches[0].image.label == source, _ranked(matches)
    assert [m.orientation for m in matches] == ["original"] * len(matches), _ranked(matches)
    assert full_collection.compare(query, gallery / f"{source}.png").orientation == "original"
    best = full_collection.search(turned, k=1)[0]
    assert (best.image.label, best.orientation) == (source, "rotated 270"), _ranked([best])
    assert full_collection.compare(turned, gallery / f"{source}.png").orientation == "rotated 270"


@pytest.mark.parametrize("edit", ["jpeg15", "crop80", "caption", "brighter"])
def test_a_sure_upright_copy_skips_the_turned_cnn_passes(
    full_collection: Collection, queries: Path, edit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    passes = CnnPasses(monkeypatch, full_collection)
    query = queries / f"coffee-{edit}.jpg"
    lazy = full_collection.search(query, k=3)
    assert passes.images == 1
    assert lazy[0].image.label == "coffee" and lazy[0].tier == "near-duplicate"
    settings = full_collection.store.settings
    full_collection.store.settings = replace(settings, turn_queries="always")
    try:
        always = full_collection.search(query, k=3)
    finally:
        full_collection.store.settings = settings
    assert passes.images == 1 + 4
    assert _ranked(lazy)[0] == _ranked(always)[0]
    assert lazy[0].score == pytest.approx(always[0].score)


def test_a_turned_and_cropped_copy_turns_the_cnn(
    full_collection: Collection, gallery: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hashes cannot see a turned crop: the upright search is unsure, so the CNN
    runs on the turned query too and finds it."""
    query = tmp_path / "rocket-crop-rot90.jpg"
    EDITS["crop70-corner"](Image.open(gallery / "rocket.png").convert("RGB")).transpose(
        Image.Transpose.ROTATE_90).save(query, quality=90)
    passes = CnnPasses(monkeypatch, full_collection)
    (best, *_) = full_collection.search(query, k=3)
    assert passes.images == 4
    assert best.image.label == "rocket"
    assert best.orientation in ("rotated 270", "transversed")


def test_a_turned_copy_in_the_collection_is_found_beside_the_upright_one(
    tmp_path: Path, gallery: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upright original is a sure copy, but the hashes see a turned copy as well:
    search turns the CNN to score it."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "rocket", "coffee", "chelsea"):
        shutil.copyfile(gallery / f"{name}.png", folder / f"{name}.png")
    Image.open(gallery / "astronaut.png").transpose(Image.Transpose.ROTATE_90).save(folder / "astronaut-turned.png")
    with Collection(tmp_path / "turned.db") as collection:
        collection.index([folder])
        passes = CnnPasses(monkeypatch, collection)
        matches = collection.search(gallery / "astronaut.png", k=3)
    assert passes.images == 4
    assert [Path(m.image.path).name for m in matches[:2]] == ["astronaut.png", "astronaut-turned.png"]
    assert matches[1].tier == "near-duplicate" and matches[1].orientation == "rotated 90"


def test_hash_indexes_propose_fewer_candidates_than_the_embedding() -> None:
    from lookalike.features.registry import get_spec
    from lookalike.search import MIN_CANDIDATES, candidates_per_index

    phash, embedding = get_spec("phash"), get_spec("effnet_lite0")
    assert candidates_per_index(phash, 10) == 10
    assert candidates_per_index(phash, 10, with_embedding=False) == 40  # the only source of look-alikes
    assert candidates_per_index(embedding, 10) == 40
    assert candidates_per_index(embedding, 2) == MIN_CANDIDATES

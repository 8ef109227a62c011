"""Regional embeddings (`lookalike.features.regions`): windows of each stored image embedded
as ordinary features, searched with the query's global embedding, on both backends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from lookalike import Collection, Settings
from lookalike.cli import main
from lookalike.demo import sample_image
from lookalike.edits import crop
from lookalike.features.regions import WINDOWS, region_features

from .conftest import STORES, store_url

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "moon", "horse")


def test_region_feature_names_per_count() -> None:
    assert region_features(0) == ()
    assert region_features(1) == ("effnet_lite0_region_c",)
    assert len(region_features(5)) == 5 and set(name.rsplit("_", 1)[1] for name in region_features(5)) == set(WINDOWS)
    with pytest.raises(ValueError):
        region_features(3)


@pytest.mark.parametrize("backend", STORES)
def test_a_corner_crop_is_found_through_its_window(backend: str, tmp_path: Path, gallery: Path,
                                                   request: pytest.FixtureRequest) -> None:
    """A 30%-area cut from the bottom-right of the cat: the bottom-right window's vector
    carries it (both backends store the region vectors like any feature), and removing the
    image removes them with it."""
    features = ("phash", "effnet_lite0") + region_features(5)
    settings = Settings(db=tmp_path / "regions.db", store=store_url(backend, tmp_path, request, "regions"),
                        features=features, batch_size=4)
    query = tmp_path / "chelsea-corner.jpg"
    crop(0.3**0.5, (1.0, 1.0))(sample_image("chelsea")).save(query, quality=92)
    with Collection(settings=settings) as collection:
        collection.add([gallery / f"{name}.png" for name in PHOTOS], labels=None)
        stored = {f["name"]: f["vectors"] for f in collection.info().features}
        assert all(stored[name] == len(PHOTOS) for name in region_features(5))
        best = collection.search(query, k=3)[0]
        assert best.image.path.endswith("chelsea.png")
        region = best.explanation["region"]
        assert region["feature"] == "effnet_lite0_region_br" and region["similarity"] > region["whole_image"]
        assert "bottom-right window" in region["reason"]
        assert best.evidence["effnet_lite0_region_br"] == pytest.approx(region["similarity"], abs=1e-4)
        collection.remove([best.image.id])
        stored = {f["name"]: f["vectors"] for f in collection.info().features}
        assert all(stored[name] == len(PHOTOS) - 1 for name in region_features(5))


def test_stores_without_regions_search_as_before(full_collection: Collection, queries: Path) -> None:
    best = full_collection.search(queries / "chelsea-rot90.jpg", k=1)[0]
    assert not any(name.startswith("effnet_lite0_region") for name in best.evidence)
    assert "region" not in (best.explanation or {}) or best.explanation["region"]["feature"].startswith("copy_lite0")


def test_index_regions_option_and_explain(tmp_path: Path, gallery: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in PHOTOS[:4]:
        (folder / f"{name}.png").write_bytes((gallery / f"{name}.png").read_bytes())
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "index", str(folder), "--regions", "4"]).exit_code == 0
    with Collection(db) as collection:
        assert set(region_features(4)) <= set(collection.settings.features)
        assert "effnet_lite0_region_c" not in collection.settings.features
    query = tmp_path / "coffee-corner.jpg"
    crop(0.55, (0.0, 0.0))(sample_image("coffee")).save(query, quality=92)
    shown = runner.invoke(main, ["--db", db, "search", str(query), "-k", "1", "--explain"])
    assert shown.exit_code == 0 and "coffee.png" in shown.output, shown.output
    assert "region: the query resembles the top-left window" in shown.output, shown.output


def test_regions_are_off_by_default() -> None:
    """The embedding's windows cost a CNN pass each: off by default (the copy descriptor's
    windows, pooled from its one pass, are on)."""
    assert not any(name.startswith("effnet_lite0_region") for name in Settings().features)
    assert replace(Settings(), features=Settings().features + region_features(1)).features[-1] == "effnet_lite0_region_c"

"""A feature registered from outside the package (conftest's `FakeGrid`, as a plugin would)
goes through the same path as the built-in ones: index, search, duplicates, reopen."""

from __future__ import annotations

from pathlib import Path

from lookalike import Collection, Settings


def test_a_store_of_a_plugin_feature_indexes_searches_and_groups(tmp_path: Path, gallery: Path) -> None:
    settings = Settings(db=tmp_path / "fake.db", features=("fake_grid",))
    with Collection(settings=settings) as collection:
        report = collection.index([gallery])
        assert report.indexed == len(list(gallery.iterdir())) - 1 and not report.skipped
        best = collection.search(gallery / "coffee.png", k=3)[0]
        assert Path(best.image.path).name == "coffee.png" and best.tier == "exact"
        assert set(best.evidence) == {"fake_grid"}
        groups = collection.duplicates()
        assert any({"chelsea.png", "chelsea-copy.png"} <= {Path(p).name for i in g.images for p in i.paths}
                   for g in groups)
    with Collection(tmp_path / "fake.db") as reopened:
        assert reopened.settings.features == ("fake_grid",)
        assert reopened.search(gallery / "moon.png", k=1)[0].image.path.endswith("moon.png")

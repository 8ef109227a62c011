"""FAISS indexes: the factory choice, range-search semantics, persistence and the switch
from exact to approximate search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike import Collection, Settings
from lookalike.features.base import l2_normalise
from lookalike.features.registry import get_spec
from lookalike.vectors import VectorIndex, choose_factory


def test_factory_by_size() -> None:
    phash, colour = get_spec("phash"), get_spec("color")
    assert choose_factory(phash, 10_000_000, 1000) == "BFlat"
    assert choose_factory(colour, 1000, 1000) == "Flat"
    assert choose_factory(colour, 1_000_000, 1000) == "IVF4096,SQ8"


def test_binary_range_search_is_inclusive_at_the_threshold() -> None:
    spec = get_spec("phash")
    index = VectorIndex(spec, "BFlat")
    base = np.zeros((1, 8), dtype=np.uint8)
    stored = np.repeat(base, 3, axis=0)
    stored[1, 0] = 0b1111  # 4 bits away
    stored[2, 0] = 0b11111  # 5 bits away
    index.add(np.array([10, 11, 12]), stored)
    lims, sims, ids = index.range_search(base, 1 - 4 / 64)
    assert sorted(ids.tolist()) == [10, 11]
    assert sims.min() == pytest.approx(1 - 4 / 64)


def test_float_index_search_remove_save_load(tmp_path: Path) -> None:
    spec = get_spec("color")
    rng = np.random.default_rng(0)
    vectors = l2_normalise(rng.random((50, spec.dim)))
    index = VectorIndex(spec, "Flat")
    index.add(np.arange(100, 150), vectors)
    sims, ids = index.search(vectors[:2], 3)
    assert ids[:, 0].tolist() == [100, 101] and np.allclose(sims[:, 0], 1.0)
    index.remove(np.array([100]))
    assert len(index) == 49 and 100 not in index.search(vectors[:1], 5)[1]
    index.save(tmp_path / "color.faiss", generation=7)
    assert VectorIndex.load(spec, tmp_path / "color.faiss", generation=8) is None  # stale
    loaded = VectorIndex.load(spec, tmp_path / "color.faiss", generation=7)
    assert loaded is not None and len(loaded) == 49 and loaded.factory == "Flat"
    (tmp_path / "color.faiss").write_bytes(b"garbage")
    assert VectorIndex.load(spec, tmp_path / "color.faiss", generation=7) is None


def test_collection_switches_to_approximate_index_and_still_finds(tmp_path: Path, gallery: Path, queries: Path) -> None:
    settings = Settings(db=tmp_path / "s.db", features=("phash", "dhash", "color", "lbp"), max_exact_vectors=8)
    with Collection(settings=settings) as collection:
        collection.index([gallery])
        assert collection.store.indexes["color"].factory.startswith("IVF")
        assert collection.store.indexes["phash"].factory == "BFlat"
        (best,) = collection.search(queries / "chelsea-jpeg15.jpg", k=1)
        assert "chelsea.png" in {Path(p).name for p in best.image.paths}
    with Collection(settings=settings) as reopened:
        assert reopened.store.indexes["color"].factory.startswith("IVF")
        assert len(reopened.store.indexes["color"]) == reopened.info().images


def test_deleted_index_files_are_rebuilt_from_the_catalog(tmp_path: Path, gallery: Path) -> None:
    settings = Settings(db=tmp_path / "s.db", features=("phash", "color"))
    with Collection(settings=settings) as collection:
        collection.index([gallery])
        count = collection.info().images
    for path in (tmp_path / "s.db.indexes").iterdir():
        path.unlink()
    with Collection(settings=settings) as reopened:
        assert all(len(index) == count for index in reopened.store.indexes.values())
        assert reopened.search(gallery / "moon.png", k=1)[0].tier == "exact"

"""FAISS indexes: the factory choice, range-search semantics, persistence, the switch
from exact to compressed approximate search (and back), add/remove after it, retraining."""

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
    assert choose_factory(phash, 1000, 1000) == "BFlat"
    assert choose_factory(phash, 10_000_000, 1000) == "BIVF16384"
    assert choose_factory(colour, 1000, 1000) == "Flat"
    assert choose_factory(colour, 1_000_000, 1000) == "IVF4096_HNSW32,SQ8"
    assert choose_factory(colour, 9, 0) == "IVF8_HNSW32,SQ8"  # never more cells than vectors


def test_rebuild_when_the_kind_or_the_cell_count_no_longer_fits() -> None:
    embedding = get_spec("effnet_lite0")
    index = VectorIndex(embedding, choose_factory(embedding, 60_000, 50_000))
    assert index.factory == "IVF1024_HNSW32,SQ8" and not index.needs_rebuild(200_000, 50_000)
    assert index.needs_rebuild(40_000, 50_000)  # back under the exact limit
    assert index.needs_rebuild(1_000_000, 50_000)  # 4096 cells wanted: learn them again
    assert not VectorIndex(embedding, "Flat").needs_rebuild(50_000, 50_000)


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
    index.save(tmp_path / "color.faiss", generation=7, journal=12)
    loaded = VectorIndex.load(spec, tmp_path / "color.faiss")
    assert loaded is not None and len(loaded[0]) == 49 and loaded[0].factory == "Flat"
    assert (loaded[1]["generation"], loaded[1]["journal"]) == (7, 12)  # what the store catches up from
    (tmp_path / "color.faiss").write_bytes(b"garbage")
    assert VectorIndex.load(spec, tmp_path / "color.faiss") is None


def test_collection_switches_to_approximate_index_and_still_finds(tmp_path: Path, gallery: Path, queries: Path) -> None:
    settings = Settings(db=tmp_path / "s.db", features=("phash", "dhash", "color", "lbp"), max_exact_vectors=8)
    with Collection(settings=settings) as collection:
        collection.index([gallery])
        assert collection.store.indexes["color"].factory.startswith("IVF")
        assert collection.store.indexes["phash"].factory.startswith("BIVF")
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


def test_add_and_remove_after_the_switch_then_back_to_exact(tmp_path: Path, gallery: Path) -> None:
    settings = Settings(db=tmp_path / "s.db", features=("phash", "color", "lbp"), max_exact_vectors=12)
    with Collection(settings=settings) as collection:
        collection.index([gallery])
        store = collection.store
        assert all(index.approximate for index in store.indexes.values())
        astronaut = gallery / "astronaut.png"
        (before,) = collection.search(astronaut, k=1)
        vectors = {name: store.vectors(name, [before.image.id]) for name in store.indexes}
        collection.remove([str(astronaut)])
        for name, index in store.indexes.items():
            assert len(index) == collection.info().images
            assert before.image.id not in index.search(vectors[name], 50)[1]
        assert before.image.id not in {m.image.id for m in collection.search(astronaut, k=5)}
        collection.add([astronaut])  # into the cells learned before
        (best,) = collection.search(astronaut, k=1)
        assert best.tier == "exact" and best.image.id != before.image.id
        others = [i for i in store.image_ids() if i != best.image.id][: collection.info().images - 12]
        collection.remove(others)  # down to the exact limit: saved as exact indexes again
        assert collection.info().images == 12
        assert not any(index.approximate for index in store.indexes.values())
    with Collection(settings=settings) as reopened:
        assert {index.factory for index in reopened.store.indexes.values()} == {"BFlat", "Flat"}
        assert reopened.search(gallery / "astronaut.png", k=1)[0].tier == "exact"


def test_approximate_search_is_re_ranked_exactly(tmp_path: Path, gallery: Path) -> None:
    """The store re-ranks the 8-bit codes' candidates with the catalog's exact vectors."""
    exact = Settings(db=tmp_path / "exact.db", features=("phash", "color"))
    approximate = Settings(db=tmp_path / "approx.db", features=("phash", "color"), max_exact_vectors=4)
    results = []
    for settings in (exact, approximate):
        with Collection(settings=settings) as collection:
            collection.index([gallery])
            store = collection.store
            ids = store.image_ids()
            paths = store.images(ids)
            similarities, found = store.search_vectors("color", store.vectors("color", ids), 5)
            results.append(([[paths[int(i)].path for i in row] for row in found], similarities))
    (exact_paths, exact_sims), (approx_paths, approx_sims) = results
    assert approx_paths == exact_paths
    assert np.allclose(approx_sims, exact_sims, atol=1e-5)


def test_training_sample_is_capped() -> None:
    from lookalike.vectors import training_size

    assert training_size("IVF1024_HNSW32,SQ8") == 40 * 1024
    assert training_size("IVF65536_HNSW32,SQ8") == 160_000  # never the whole collection in memory twice
    assert training_size("IVF1024,SQ8") == 40 * 1024  # the kind stores before the HNSW centres saved


def _clustered(count: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    return l2_normalise((centres[rng.integers(0, 40, count)] + 0.3 * rng.normal(size=(count, dim))).astype(np.float32))


@pytest.mark.parametrize("factory", ["IVF64_HNSW32,SQ8", "IVF64,SQ8"])
def test_both_kinds_of_cell_search_find_what_exact_search_finds_and_survive_a_reload(
    tmp_path: Path, factory: str
) -> None:
    """The HNSW graph over the cell centres visits the cells exact comparison would; the
    older flat-centre kind (stores saved before it) still loads and searches."""
    spec = get_spec("lbp")
    vectors = _clustered(5000, spec.dim, seed=1)
    ids = np.arange(5000, dtype=np.int64) + 100
    exact = VectorIndex(spec, "Flat")
    exact.add(ids, vectors)
    index = VectorIndex(spec, factory)
    index.train(vectors[:2560])
    index.add(ids, vectors)
    index.save(tmp_path / "lbp.faiss", generation=7, journal=7)
    loaded = VectorIndex.load(spec, tmp_path / "lbp.faiss")
    assert loaded is not None and loaded[0].factory == factory
    reloaded = loaded[0]
    queries = _clustered(50, spec.dim, seed=2)
    _, truth = exact.search(queries, 10)
    for candidate in (index, reloaded):
        _, found = candidate.search(queries, 40)
        covered = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found.tolist(), truth.tolist())])
        assert covered >= 0.95

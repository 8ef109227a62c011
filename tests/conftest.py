"""Shared fixtures: a gallery of real photos (scikit-image samples) and edited copies,
and collections indexed from it in real SQLite files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import numpy as np
from PIL import Image

from lookalike import Collection, Settings
from lookalike.features.base import Extractor, FeatureSpec, l2_normalise
from lookalike.features.registry import register_extractor
from lookalike.demo import build_gallery

@register_extractor
class FakeGrid(Extractor):
    """A deterministic stand-in feature, as a plugin would declare one: the mean colour of a
    4 x 4 grid (48 floats, square-rooted and unit length). Registered for the whole test
    session, so every contract test of tests/test_features.py runs on it too, and a store
    built on it alone shows that a feature from outside takes the one common path."""

    spec = FeatureSpec(name="fake_grid", version="1", kind="float", dim=48, input_side=16, near=0.99, far=0.8,
                       family="embedding", description="test only: mean colour of a 4 x 4 grid", invariance="none")

    def _extract(self, images: list) -> np.ndarray:
        grids = [np.asarray(image.convert("RGB").resize((4, 4), Image.Resampling.BOX), dtype=np.float32).ravel()
                 for image in images]
        return l2_normalise(np.sqrt(np.stack(grids) + 1.0))


# Everything but the CNN: fast enough to build a fresh store per test.
HASH_FEATURES = ("ahash", "dhash", "phash", "whash", "color", "lbp")


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Convert the ONNX model once per test session into a private cache (as a new user would)."""
    cache = os.environ.get("LOOKALIKE_TEST_CACHE_DIR") or str(tmp_path_factory.mktemp("model-cache"))
    os.environ["LOOKALIKE_CACHE_DIR"] = cache
    return Path(cache)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(gallery, queries) folders; see lookalike.demo."""
    return build_gallery(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def gallery(demo: tuple[Path, Path]) -> Path:
    return demo[0]


@pytest.fixture(scope="session")
def queries(demo: tuple[Path, Path]) -> Path:
    return demo[1]


@pytest.fixture(scope="session")
def full_collection(tmp_path_factory: pytest.TempPathFactory, gallery: Path) -> Collection:
    """The gallery indexed with every default feature, CNN included. Read-only for tests."""
    collection = Collection(tmp_path_factory.mktemp("full") / "gallery.db")
    report = collection.index([gallery], label_from="prefix")
    assert report.indexed == len(list(gallery.iterdir())) - 1  # one file is a byte copy
    yield collection
    collection.close()


STORES = ("embedded", "milvus")


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory):
    """A real Milvus standalone server (the PyPI package `milvus`) for the whole session:
    every Milvus store test talks to it through a milvus:// URL, as to a cluster."""
    pytest.importorskip("milvus", reason="the Milvus store tests need the test extra: pip install 'lookalike[test]'")
    from bench.milvus_server import running_milvus

    with running_milvus(tmp_path_factory.mktemp("milvus-server")) as server:
        yield server


class ReusedCollections:
    """Milvus collections for one test after another: creating a store's ten collections takes
    the server seconds, so each test gets the previous test's store (same features) emptied
    of every row but the feature list, which is as good as new."""

    def __init__(self, server) -> None:
        from pymilvus import MilvusClient

        from lookalike.store.milvus_layout import GuardedClient

        self.server = server
        uri = f"http://127.0.0.1:{server.port}"
        self.client = GuardedClient(MilvusClient(uri), uri)  # rides out the restart test

    def fresh(self, key: str) -> str:
        name = "reused_" + key
        for collection in self.client.list_collections():
            if collection.startswith(f"{name}_"):
                self.client.delete(collection, filter=self._everything(collection))
        return self.server.url(name)

    @staticmethod
    def _everything(collection: str) -> str:
        if collection.endswith("_meta"):
            return 'key not in ["features", "layout"]'
        return 'path != ""' if collection.endswith("_paths") else "id >= 0"


@pytest.fixture(scope="session")
def milvus_collections(milvus_server) -> ReusedCollections:
    return ReusedCollections(milvus_server)


def store_url(kind: str, folder: Path, request: pytest.FixtureRequest | None = None, reuse: str = "hashes") -> str | None:
    """Settings.store for a backend: the embedded store, an emptied collection on the session's
    Milvus server (exact index, so results match the embedded store's; `reuse` names the
    collection, one per feature set), or Milvus Lite."""
    if kind == "embedded":
        return None
    if kind == "milvus-lite":
        return f"milvus-lite:{folder / 'milvus' / 'store.db'}"
    assert request is not None, "a milvus store needs the test's request (for the session's server)"
    return request.getfixturevalue("milvus_collections").fresh(reuse)


@pytest.fixture(params=STORES)
def hash_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Runs the test once per storage backend."""
    return Settings(db=tmp_path / "store.db", store=store_url(request.param, tmp_path, request),
                    features=HASH_FEATURES, batch_size=4)


@pytest.fixture()
def embedded_settings(tmp_path: Path) -> Settings:
    """For tests of what only the embedded store has (its SQLite file, FAISS indexes, lock file)."""
    return Settings(db=tmp_path / "store.db", features=HASH_FEATURES, batch_size=4)


@pytest.fixture()
def hash_collection(hash_settings: Settings) -> Collection:
    with Collection(settings=hash_settings) as collection:
        yield collection


def pytest_report_header(config: pytest.Config) -> str:
    """The versions this run tested, printed at the top of `make test` (and so of CI)."""
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    names = sorted({Requirement(line).name for line in requires("lookalike") or []}, key=str.lower)
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return "dependencies: " + ", ".join(found)

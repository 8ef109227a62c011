"""Features from model files: a store records the model that made its vectors and refuses
to mix models. The model here is a fixed random projection written by hand as ONNX; the
trainers' own tests cover real training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lookalike import Collection, Settings
from lookalike.errors import FeatureMismatch, StoreError
from lookalike.features.learned import ModelFileError, read_model_file, write_model_file


def projection_model(path: Path, seed: int, dim: int = 32) -> Path:
    weights = np.abs(np.random.default_rng(seed).normal(size=(1280, dim))).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "weights"], ["embedding"])],
        "projection",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1280])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", dim])],
        [numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    config = {"kind": "siamese", "dim": dim, "input": {"type": "embedding", "backbone": "effnet_lite0"},
              "near": 0.9, "far": 0.5, "invariance": "mirror", "trained": {"by": "test"}}
    return write_model_file(path, config, model.SerializeToString())


def test_model_file_round_trip_is_deterministic(tmp_path: Path) -> None:
    first = read_model_file(projection_model(tmp_path / "a.lookalike", seed=1))
    again = read_model_file(projection_model(tmp_path / "b.lookalike", seed=1))
    other = read_model_file(projection_model(tmp_path / "c.lookalike", seed=2))
    assert first.sha256 == again.sha256 and first.feature_name == again.feature_name
    assert other.feature_name != first.feature_name and first.feature_name.startswith("siamese-")
    (tmp_path / "bad.lookalike").write_bytes(b"nope")
    with pytest.raises(ModelFileError, match="not a lookalike model file"):
        read_model_file(tmp_path / "bad.lookalike")


def test_store_records_its_model_and_refuses_another(tmp_path: Path, gallery: Path) -> None:
    model = projection_model(tmp_path / "shop.lookalike", seed=1)
    name = read_model_file(model).feature_name
    settings = Settings(db=tmp_path / "s.db", features=("phash",), model=model)
    with Collection(settings=settings) as collection:
        collection.index([gallery / "moon.png", gallery / "coins.png"])
        assert name in collection.settings.features
        (best, *_) = collection.search(gallery / "moon.png", k=1)
        assert best.evidence[name] == pytest.approx(1.0) and best.tier == "exact"
    with Collection(tmp_path / "s.db") as reopened:  # no model given: the store knows it
        assert reopened.search(gallery / "coins.png", k=1)[0].evidence[name] == pytest.approx(1.0)
    with pytest.raises(FeatureMismatch, match="new --db"):
        Collection(settings=Settings(db=tmp_path / "s.db", model=projection_model(tmp_path / "x.lookalike", seed=3)))
    model.unlink()
    with pytest.raises(StoreError, match="model file"):
        Collection(tmp_path / "s.db")

"""The autoencoder: reconstruction error falls, the exported encoder computes what torch
computes, and the model file serves the same vectors through lookalike's extractor."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lookalike.features.learned import pixels_for, read_model_file  # noqa: E402
from lookalike import Settings  # noqa: E402
from lookalike.runtime import Runtime  # noqa: E402
from lookalike.train.autoencoder import (  # noqa: E402
    AutoencoderOptions,
    build_autoencoder,
    channel_statistics,
    fit_autoencoder,
    train_autoencoder,
)
from lookalike.train.data import from_images  # noqa: E402
from lookalike.train.modules import SignSplit, to_layers  # noqa: E402
from lookalike.train.onnx_graph import OnnxRunner, build_onnx  # noqa: E402

from .conftest import PHOTOS, small_photo  # noqa: E402


def test_reconstruction_error_falls() -> None:
    torch.manual_seed(0)
    photos = [small_photo(name) for name in PHOTOS]
    pixels = torch.from_numpy(pixels_for(photos, 32, *channel_statistics(photos, 32)))
    options = AutoencoderOptions(side=32, dim=16, epochs=40, batch_size=10)
    _, losses = fit_autoencoder(pixels, options, np.random.default_rng(0), lambda message: None)
    assert losses[-1] < 0.8 * losses[0], losses  # 0.41-0.57 of the first epoch's over seeds 0-5


def test_exported_encoder_matches_torch() -> None:
    torch.manual_seed(0)
    encoder, _ = build_autoencoder(32, 8)
    feature = torch.nn.Sequential(encoder, SignSplit()).eval()
    pixels = np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = feature(torch.from_numpy(pixels)).numpy()
    actual = OnnxRunner(build_onnx(to_layers(feature), ["N", 3, 32, 32], 16))(pixels)
    assert actual.shape == (3, 16) and (actual >= 0).all()
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_trained_model_file_serves_the_measured_vectors(tmp_path) -> None:
    photos = [small_photo(name) for name in PHOTOS]
    options = AutoencoderOptions(side=32, dim=8, epochs=2, views=1, copies=2)
    result = train_autoencoder(from_images(photos[:6]), from_images(photos[6:]), tmp_path / "ae.lookalike", options)
    config = read_model_file(result.path).config
    assert config["kind"] == "autoencoder" and config["dim"] == 16
    assert config["input"]["type"] == "pixels" and config["input"]["side"] == 32
    assert len(config["input"]["mean"]) == 3 and config["far"] < config["near"]
    runtime = Runtime(Settings())
    spec = runtime.add_model_file(result.path)
    served = runtime.extractor(spec.name).extract_batch(photos[:2])
    runner = OnnxRunner(read_model_file(result.path).onnx)
    direct = runner(pixels_for(photos[:2], 32, config["input"]["mean"], config["input"]["std"]))
    np.testing.assert_allclose(served, direct / np.linalg.norm(direct, axis=1, keepdims=True), atol=1e-5)
    assert spec.dim == 16 and spec.family == "embedding"

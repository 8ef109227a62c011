"""Hand-written ONNX graphs compute what the plain layers say (checked against numpy),
and the same layers always serialise to the same bytes. No torch needed."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.train import onnx_graph as g


def random_layers(rng: np.random.Generator) -> tuple[list[g.Layer], list[g.Layer]]:
    conv = [g.Conv(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), rng.normal(size=4).astype(np.float32), 2, 1),
            g.Relu(), g.Flatten(), g.Linear(rng.normal(size=(5, 4 * 4 * 4)).astype(np.float32),
                                            rng.normal(size=5).astype(np.float32)), g.SignSplit()]
    head = [g.Residual((g.Linear(rng.normal(size=(6, 8)).astype(np.float32), rng.normal(size=6).astype(np.float32)),
                        g.Relu(),
                        g.Linear(rng.normal(size=(8, 6)).astype(np.float32), rng.normal(size=8).astype(np.float32)))),
            g.Relu()]
    return conv, head


def numpy_forward(layers: list[g.Layer], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        if isinstance(layer, g.Linear):
            x = x @ layer.weight.T + layer.bias
        elif isinstance(layer, g.Relu):
            x = np.maximum(x, 0)
        elif isinstance(layer, g.Flatten):
            x = x.reshape(len(x), -1)
        elif isinstance(layer, g.SignSplit):
            x = np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=1)
        elif isinstance(layer, g.Residual):
            x = x + numpy_forward(list(layer.layers), x)
        elif isinstance(layer, g.Conv):
            x = numpy_conv(x, layer)
    return x


def numpy_conv(x: np.ndarray, layer: g.Conv) -> np.ndarray:
    k, s, p = layer.weight.shape[-1], layer.stride, layer.padding
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    size = (padded.shape[-1] - k) // s + 1
    out = np.empty((len(x), layer.weight.shape[0], size, size))
    for i in range(size):
        for j in range(size):
            window = padded[:, :, i * s:i * s + k, j * s:j * s + k]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", window, layer.weight) + layer.bias
    return out


def test_graphs_match_numpy() -> None:
    rng = np.random.default_rng(0)
    conv, head = random_layers(rng)
    pixels = rng.normal(size=(3, 3, 8, 8)).astype(np.float32)
    vectors = np.abs(rng.normal(size=(5, 8))).astype(np.float32)
    conv_out = g.OnnxRunner(g.build_onnx(conv, ["N", 3, 8, 8], 10))(pixels)
    head_out = g.OnnxRunner(g.build_onnx(head, ["N", 8], 8))(vectors, batch=2)  # batches are stitched back
    np.testing.assert_allclose(conv_out, numpy_forward(conv, pixels), atol=1e-4)
    np.testing.assert_allclose(head_out, numpy_forward(head, vectors), atol=1e-5)
    assert conv_out.shape == (3, 10) and (conv_out >= 0).all()


def test_same_layers_same_bytes_and_unknown_layers_refused() -> None:
    _, head = random_layers(np.random.default_rng(1))
    assert g.build_onnx(head, ["N", 8], 8) == g.build_onnx(head, ["N", 8], 8)
    with pytest.raises(TypeError, match="no ONNX translation"):
        g.build_onnx(["softmax"], ["N", 8], 8)  # type: ignore[list-item]

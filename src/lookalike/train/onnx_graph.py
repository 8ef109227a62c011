"""Trained weights -> an ONNX graph, written by hand with onnx.helper (no torch exporter).

A model is described as a short list of plain layers holding numpy arrays (`Linear`,
`Conv`, `Relu`, `Flatten`, `SignSplit`, `Residual`); `modules.to_layers` turns the torch
modules the trainers use into such a list, and `build_onnx` turns the list into a graph with one input
`input` and one output `embedding`, the names `lookalike.features.learned` reads. Keeping
this module free of torch means the graph builder is tested without it, and the siamese
head and the autoencoder's encoder share every line of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence, Union

import numpy as np

from ..models.onnx_writer import GraphWriter

INPUT = "input"
OUTPUT = "embedding"


@dataclass(frozen=True)
class Linear:
    """y = x @ weight.T + bias (torch's nn.Linear layout: weight is (out, in))."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class Conv:
    """2-D convolution, torch's nn.Conv2d layout (out, in, k, k), symmetric zero padding."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True)
class Relu:
    pass


@dataclass(frozen=True)
class Flatten:
    """(N, C, H, W) -> (N, C*H*W), in torch's order."""


@dataclass(frozen=True)
class SignSplit:
    """x -> [relu(x), relu(-x)] along features: a signed code as a non-negative vector of
    twice the width that keeps all of it (lookalike's float vectors are non-negative)."""


@dataclass(frozen=True)
class Residual:
    """x + layers(x)."""

    layers: tuple["Layer", ...] = field(default_factory=tuple)


Layer = Union[Linear, Conv, Relu, Flatten, SignSplit, Residual]


class _Graph(GraphWriter):
    """The layers, written with readable, deterministic names (linear1.weight, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def constant(self, name: str, array: np.ndarray) -> str:
        return super().constant(name, np.asarray(array, dtype=np.float32))

    def add(self, x: str, layer: Layer) -> str:
        """Append one layer reading tensor `x`; returns the name of its output."""
        name = self.name(type(layer).__name__.lower())
        if isinstance(layer, Linear):
            weight, bias = self.constant(f"{name}.weight", layer.weight), self.constant(f"{name}.bias", layer.bias)
            return self.node("Gemm", [x, weight, bias], name, transB=1)
        if isinstance(layer, Conv):
            weight, bias = self.constant(f"{name}.weight", layer.weight), self.constant(f"{name}.bias", layer.bias)
            kernel = list(layer.weight.shape[2:])
            return self.node("Conv", [x, weight, bias], name, kernel_shape=kernel,
                             strides=[layer.stride] * 2, pads=[layer.padding] * 4)
        if isinstance(layer, Relu):
            return self.node("Relu", [x], name)
        if isinstance(layer, Flatten):
            return self.node("Flatten", [x], name, axis=1)
        if isinstance(layer, SignSplit):
            negated = self.node("Neg", [x], f"{name}.neg")
            halves = [self.node("Relu", [x], f"{name}.positive"), self.node("Relu", [negated], f"{name}.negative")]
            return self.node("Concat", halves, name, axis=1)
        if isinstance(layer, Residual):
            inner = x
            for sublayer in layer.layers:
                inner = self.add(inner, sublayer)
            return self.node("Add", [x, inner], name)
        raise TypeError(f"no ONNX translation for {layer!r}")


def build_onnx(layers: Sequence[Layer], input_shape: Sequence[int | str], output_dim: int,
               graph_name: str = "lookalike_learned") -> bytes:
    """Serialise the layers as an ONNX model: `input` of `input_shape` (first axis the
    batch, named "N") -> `embedding` [N, output_dim]. Same layers, same bytes."""
    graph = _Graph()
    x = INPUT
    for layer in layers:
        x = graph.add(x, layer)
    graph.node("Identity", [x], "output", output=OUTPUT)
    model = graph.model(graph_name, inputs=[(INPUT, ["N", *input_shape[1:]])], outputs=[(OUTPUT, ["N", output_dim])],
                        producer_name="lookalike-train")
    return model.SerializeToString(deterministic=True)


class OnnxRunner:
    """An onnxruntime session over model bytes, run in batches (what indexing will run)."""

    def __init__(self, model: bytes) -> None:
        import onnxruntime as ort

        self._session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])

    def __call__(self, inputs: np.ndarray, batch: int = 256) -> np.ndarray:
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        parts = [self._session.run([OUTPUT], {INPUT: inputs[start:start + batch]})[0]
                 for start in range(0, len(inputs), batch)]
        return np.concatenate(parts) if parts else np.empty((0, 0), dtype=np.float32)

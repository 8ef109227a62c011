"""The torch building blocks the trainers share, and their translation to plain layers
(`onnx_graph`), so that what is trained in torch is exactly what onnxruntime serves."""

from __future__ import annotations

from typing import Any

from . import onnx_graph as g
from .torch_support import require_torch

require_torch()  # TorchMissing, with the extra to install, rather than an ImportError

import torch  # noqa: E402
from torch import nn  # noqa: E402


class Residual(nn.Module):
    """x + body(x): a head that starts as the identity (its last layer zeroed) begins
    exactly at the backbone's embedding, so training can only move away from it on purpose."""

    def __init__(self, *layers: Any) -> None:
        super().__init__()
        self.body = nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        return x + self.body(x)


class SignSplit(nn.Module):
    """[relu(x), relu(-x)]: see onnx_graph.SignSplit."""

    def forward(self, x: Any) -> Any:
        return torch.cat([torch.relu(x), torch.relu(-x)], dim=1)


def to_layers(module: Any) -> list[g.Layer]:
    """Translate a module tree made of Sequential, Linear, Conv2d, ReLU, Flatten,
    SignSplit and Residual into `onnx_graph` layers holding float32 numpy copies of the weights."""
    if isinstance(module, nn.Sequential):
        return [layer for child in module for layer in to_layers(child)]
    if isinstance(module, SignSplit):
        return [g.SignSplit()]
    if isinstance(module, Residual):
        return [g.Residual(tuple(to_layers(module.body)))]
    if isinstance(module, nn.Linear):
        return [g.Linear(_array(module.weight), _array(module.bias))]
    if isinstance(module, nn.Conv2d):
        padding, stride = module.padding, module.stride[0]
        if isinstance(padding, str) or len(set(padding)) != 1 or len(set(module.stride)) != 1 or module.groups != 1:
            raise TypeError(f"only square strides and numeric padding without groups are exported: {module}")
        return [g.Conv(_array(module.weight), _array(module.bias), stride, padding[0])]
    if isinstance(module, nn.ReLU):
        return [g.Relu()]
    if isinstance(module, nn.Flatten):
        return [g.Flatten()]
    raise TypeError(f"no ONNX translation for {type(module).__name__}")


def _array(tensor: Any) -> Any:
    return tensor.detach().cpu().numpy().astype("float32").copy()

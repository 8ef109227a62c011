"""EfficientNet-Lite in torch, built from the same state dict the ONNX builder reads, with
every BatchNorm folded into its convolution: what is trained here is exactly the graph
`lookalike.models.efficientnet_lite` writes for onnxruntime.

Folding makes fine-tuning honest on two CPU cores: batches of a few dozen images would
give BatchNorm noisy statistics, so the network trains as it serves, with the ImageNet
statistics baked into each convolution's weight and bias. `folded_state_dict` writes the
trained convolutions back in the checkpoint's key layout (each BatchNorm set to the
identity: gamma 1, beta = the bias, mean 0, var 1 - eps), so the ONNX builder folds them
again to the same numbers.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..models.efficientnet_lite import BATCH_NORM_EPS, BlockConfig, infer_block_configs
from .torch_support import require_torch

require_torch()  # TorchMissing, with the extra to install, rather than an ImportError

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

STEM_STRIDE = 2


def _fold(state_dict: Mapping[str, np.ndarray], weight_key: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    weight = state_dict[weight_key].astype(np.float64)
    gamma, beta = state_dict[bn + ".weight"].astype(np.float64), state_dict[bn + ".bias"].astype(np.float64)
    mean, var = state_dict[bn + ".running_mean"].astype(np.float64), state_dict[bn + ".running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BATCH_NORM_EPS)
    folded = weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))
    return folded.astype(np.float32), (beta - mean * scale).astype(np.float32)


class FoldedConv(nn.Module):
    """Conv + folded BatchNorm [+ ReLU6], TensorFlow "SAME" padding (asymmetric for stride
    2, as the ONNX builder pads)."""

    def __init__(self, state_dict: Mapping[str, np.ndarray], weight_key: str, bn: str, *, stride: int = 1,
                 groups: int = 1, relu6: bool = True) -> None:
        super().__init__()
        weight, bias = _fold(state_dict, weight_key, bn)
        self.weight = nn.Parameter(torch.from_numpy(weight))
        self.bias = nn.Parameter(torch.from_numpy(bias))
        self.stride, self.groups, self.relu6 = stride, groups, relu6
        self.kernel = int(weight.shape[-1])
        self.weight_key, self.bn = weight_key, bn

    def forward(self, x: Any) -> Any:
        x = F.pad(x, _same_pads(x.shape[-1], self.kernel, self.stride) + _same_pads(x.shape[-2], self.kernel, self.stride))
        x = F.conv2d(x, self.weight, self.bias, stride=self.stride, groups=self.groups)
        return F.relu6(x) if self.relu6 else x

    def checkpoint_entries(self) -> dict[str, np.ndarray]:
        """This convolution in the checkpoint's layout, its BatchNorm the identity."""
        bias = self.bias.detach().cpu().numpy().astype(np.float32)
        return {self.weight_key: self.weight.detach().cpu().numpy().astype(np.float32),
                self.bn + ".weight": np.ones_like(bias), self.bn + ".bias": bias,
                self.bn + ".running_mean": np.zeros_like(bias),
                self.bn + ".running_var": np.full_like(bias, 1.0 - BATCH_NORM_EPS)}


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Block(nn.Module):
    """One MBConv block without squeeze-excite (EfficientNet-Lite)."""

    def __init__(self, state_dict: Mapping[str, np.ndarray], cfg: BlockConfig) -> None:
        super().__init__()
        src = f"_blocks.{cfg.index}."
        layers = []
        if src + "_expand_conv.weight" in state_dict:
            layers.append(FoldedConv(state_dict, src + "_expand_conv.weight", src + "_bn0"))
        layers.append(FoldedConv(state_dict, src + "_depthwise_conv.weight", src + "_bn1", stride=cfg.stride,
                                 groups=cfg.expanded_channels))
        layers.append(FoldedConv(state_dict, src + "_project_conv.weight", src + "_bn2", relu6=False))
        self.body = nn.Sequential(*layers)
        self.residual = cfg.has_residual

    def forward(self, x: Any) -> Any:
        return x + self.body(x) if self.residual else self.body(x)


def trunk_and_branch(state_dict: Mapping[str, np.ndarray], first_trained_block: int) -> tuple[nn.Sequential, nn.Sequential]:
    """(stem and the blocks before `first_trained_block`, the remaining blocks and the
    head convolution): the feature map before global pooling, in two parts."""
    configs = infer_block_configs(state_dict)
    if not 0 <= first_trained_block < len(configs):
        raise ValueError(f"first_trained_block must be in 0..{len(configs) - 1}")
    trunk = [FoldedConv(state_dict, "_conv_stem.weight", "_bn0", stride=STEM_STRIDE)]
    trunk += [Block(state_dict, cfg) for cfg in configs[:first_trained_block]]
    branch: list[nn.Module] = [Block(state_dict, cfg) for cfg in configs[first_trained_block:]]
    branch.append(FoldedConv(state_dict, "_conv_head.weight", "_bn1"))
    return nn.Sequential(*trunk), nn.Sequential(*branch)


def folded_state_dict(*parts: nn.Module) -> dict[str, np.ndarray]:
    """Every folded convolution of `parts` in the checkpoint's key layout."""
    entries: dict[str, np.ndarray] = {}
    for part in parts:
        for module in part.modules():
            if isinstance(module, FoldedConv):
                entries.update(module.checkpoint_entries())
    return entries

"""Build an ONNX EfficientNet-Lite graph straight from a (numpy) state dict.

The state dict uses the lukemelas ``EfficientNet-PyTorch`` key layout. The
architecture is read off the weight shapes (number of blocks, widths, kernel sizes,
expansion ratios), so the same builder serves Lite0-Lite4; only the per-stage
strides come from the EfficientNet-B0 block table, which all Lite variants share.

Inference-time simplifications baked into the graph:

* every BatchNorm is folded into the preceding convolution (weights and a bias),
* ReLU6 is ``Clip(x, 0, 6)``,
* TensorFlow "SAME" padding (asymmetric for stride 2) is turned into static
  ``pads`` on each ``Conv`` for the fixed input size, so the spatial size is fixed
  while the batch dimension stays dynamic,
* dropout and drop-connect vanish.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    import onnx

from .onnx_writer import GraphWriter

__all__ = [
    "BATCH_NORM_EPS",
    "BUILDER_VERSION",
    "INPUT_NAME",
    "OUTPUT_EMBEDDING",
    "OUTPUT_FEATURES",
    "OUTPUT_LOGITS",
    "BlockConfig",
    "GraphBuilder",
    "build_efficientnet_lite_onnx",
    "build_trunk_onnx",
    "write_feature_map",
    "infer_block_configs",
]

#: Bump whenever the produced graph changes, so cached conversions are redone.
BUILDER_VERSION: Final = 1

INPUT_NAME: Final = "pixels"
OUTPUT_EMBEDDING: Final = "embedding"
OUTPUT_LOGITS: Final = "logits"
OUTPUT_FEATURES: Final = "features"

#: The weights were converted from TensorFlow, whose BatchNorm epsilon is 1e-3.
BATCH_NORM_EPS: Final = 1e-3

# EfficientNet-B0 stage table; the Lite variants scale widths/depths but keep these.
_STAGE_STRIDES: Final = (1, 2, 2, 2, 1, 2, 1)
_STAGE_KERNELS: Final = (3, 3, 5, 3, 5, 5, 3)
_STEM_STRIDE: Final = 2


@dataclass(frozen=True)
class BlockConfig:
    """One MBConv block as recovered from the checkpoint."""

    index: int
    stage: int
    in_channels: int
    out_channels: int
    expanded_channels: int  # == in_channels when there is no expansion conv
    kernel: int
    stride: int

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


def _tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TF "SAME" padding for one spatial axis: ``(before, after, output_size)``."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def infer_block_configs(state_dict: Mapping[str, np.ndarray]) -> list[BlockConfig]:
    """Recover the MBConv block list from the weight shapes.

    Blocks are numbered consecutively from ``_blocks.0``. A new stage begins at
    every block whose input and output widths differ (true for the first block of
    each of the seven stages, false for every repeat), which gives each block its
    stage and hence its stride.
    """
    configs: list[BlockConfig] = []
    stage = -1
    in_channels = int(_get(state_dict, "_conv_stem.weight").shape[0])
    index = 0
    while f"_blocks.{index}._depthwise_conv.weight" in state_dict:
        prefix = f"_blocks.{index}."
        depthwise = _get(state_dict, prefix + "_depthwise_conv.weight")
        project = _get(state_dict, prefix + "_project_conv.weight")
        expanded, _, kernel, kernel_w = depthwise.shape
        out_channels = int(project.shape[0])
        if kernel != kernel_w or project.shape[1] != expanded:
            raise ValueError(f"block {index}: inconsistent weight shapes")
        expand = state_dict.get(prefix + "_expand_conv.weight")
        if expand is None and expanded != in_channels:
            raise ValueError(f"block {index}: no expansion conv but widths differ")
        if expand is not None and tuple(expand.shape) != (expanded, in_channels, 1, 1):
            raise ValueError(f"block {index}: unexpected expansion conv {expand.shape}")
        if in_channels != out_channels or stage < 0:
            stage += 1
        if stage >= len(_STAGE_STRIDES):
            raise ValueError(f"block {index}: more than {len(_STAGE_STRIDES)} stages")
        if kernel != _STAGE_KERNELS[stage]:
            raise ValueError(
                f"block {index}: kernel {kernel} but stage {stage} uses {_STAGE_KERNELS[stage]}"
            )
        first_in_stage = not configs or configs[-1].stage != stage
        configs.append(
            BlockConfig(
                index=index,
                stage=stage,
                in_channels=in_channels,
                out_channels=out_channels,
                expanded_channels=int(expanded),
                kernel=int(kernel),
                stride=_STAGE_STRIDES[stage] if first_in_stage else 1,
            )
        )
        in_channels = out_channels
        index += 1
    if stage != len(_STAGE_STRIDES) - 1:
        raise ValueError(f"found {stage + 1} stages, expected {len(_STAGE_STRIDES)}")
    return configs


def _get(state_dict: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    try:
        return state_dict[key]
    except KeyError:
        raise KeyError(
            f"state dict lacks {key!r}; is this an EfficientNet-Lite checkpoint?"
        ) from None


def _fold_batch_norm(
    weight: np.ndarray, state_dict: Mapping[str, np.ndarray], bn: str
) -> tuple[np.ndarray, np.ndarray]:
    """Fold BatchNorm ``bn`` into a bias-free conv weight; returns ``(weight, bias)``.

    Computed in float64 and rounded once, to stay within float32 noise of torch.
    """
    gamma = _get(state_dict, bn + ".weight").astype(np.float64)
    beta = _get(state_dict, bn + ".bias").astype(np.float64)
    mean = _get(state_dict, bn + ".running_mean").astype(np.float64)
    var = _get(state_dict, bn + ".running_var").astype(np.float64)
    scale = gamma / np.sqrt(var + BATCH_NORM_EPS)
    folded = weight.astype(np.float64) * scale.reshape(-1, *([1] * (weight.ndim - 1)))
    bias = beta - mean * scale
    return folded.astype(np.float32), bias.astype(np.float32)


class GraphBuilder(GraphWriter):
    """The network's blocks, written with deterministic, readable names."""

    def __init__(self, state_dict: Mapping[str, np.ndarray], image_size: int) -> None:
        super().__init__()
        self.state_dict = state_dict
        self.size = image_size  # current spatial size (square input)

    def conv_bn(
        self,
        x: str,
        name: str,
        weight_key: str,
        bn: str,
        *,
        stride: int = 1,
        groups: int = 1,
        relu6: bool = True,
    ) -> str:
        """Conv (TF-same padded) + folded BatchNorm [+ ReLU6]; returns output name."""
        weight = _get(self.state_dict, weight_key)
        kernel = int(weight.shape[-1])
        w, b = _fold_batch_norm(weight, self.state_dict, bn)
        before, after, out_size = _tf_same_pads(self.size, kernel, stride)
        out = self.node("Conv", [x, self.constant(f"{name}.weight", w), self.constant(f"{name}.bias", b)],
                        f"{name}.conv", kernel_shape=[kernel, kernel], strides=[stride, stride],
                        pads=[before, before, after, after], group=groups)
        self.size = out_size
        if not relu6:
            return out
        return self.node("Clip", [out, "relu6.min", "relu6.max"], f"{name}.relu6")

    def block(self, x: str, cfg: BlockConfig) -> str:
        """One MBConv block without squeeze-excite, as in EfficientNet-Lite."""
        src = f"_blocks.{cfg.index}."
        name = f"blocks.{cfg.index}"
        h = x
        if src + "_expand_conv.weight" in self.state_dict:
            h = self.conv_bn(h, f"{name}.expand", src + "_expand_conv.weight", src + "_bn0")
        h = self.conv_bn(
            h,
            f"{name}.depthwise",
            src + "_depthwise_conv.weight",
            src + "_bn1",
            stride=cfg.stride,
            groups=cfg.expanded_channels,
        )
        h = self.conv_bn(
            h, f"{name}.project", src + "_project_conv.weight", src + "_bn2", relu6=False
        )
        if cfg.has_residual:
            h = self.node("Add", [h, x], f"{name}.add")
        return h


def build_efficientnet_lite_onnx(
    state_dict: Mapping[str, np.ndarray], image_size: int = 224
) -> onnx.ModelProto:
    """Convert an EfficientNet-Lite state dict into an inference-only ONNX model.

    Input ``pixels``: float32 ``[N, 3, image_size, image_size]``, RGB, already
    normalised to ``(x / 255 - 0.5) / 0.5``. Outputs ``embedding``: ``[N, 1280]``
    globally average-pooled head features (not L2-normalised), and ``logits``:
    ``[N, num_classes]`` ImageNet logits. Serialising the result gives the same
    bytes for the same inputs.
    """
    g = GraphBuilder(state_dict, _checked_size(image_size))
    h = write_feature_map(g, infer_block_configs(state_dict))
    pooled = g.node("GlobalAveragePool", [h], "head.pool")
    g.node("Flatten", [pooled], "head.flatten", output=OUTPUT_EMBEDDING, axis=1)

    fc_weight = _get(state_dict, "_fc.weight").astype(np.float32)
    fc_bias = _get(state_dict, "_fc.bias").astype(np.float32)
    num_classes, dim = fc_weight.shape
    g.node("Gemm", [OUTPUT_EMBEDDING, g.constant("fc.weight", fc_weight), g.constant("fc.bias", fc_bias)], "fc",
           output=OUTPUT_LOGITS, transB=1)
    return g.model("efficientnet_lite", inputs=[(INPUT_NAME, ["N", 3, image_size, image_size])],
                   outputs=[(OUTPUT_EMBEDDING, ["N", dim]), (OUTPUT_LOGITS, ["N", num_classes])],
                   producer_name="lookalike", producer_version=str(BUILDER_VERSION))


def build_trunk_onnx(state_dict: Mapping[str, np.ndarray], image_size: int, blocks: int) -> onnx.ModelProto:
    """The stem and the first `blocks` MBConv blocks only: output ``features``, the feature
    map a fine-tuned remainder of the network (``lookalike.train.copy``) starts from."""
    configs = infer_block_configs(state_dict)
    if not 0 <= blocks <= len(configs):
        raise ValueError(f"blocks must be in 0..{len(configs)}")
    g = GraphBuilder(state_dict, _checked_size(image_size))
    h = write_feature_map(g, configs[:blocks], head=False)
    g.node("Identity", [h], "trunk.out", output=OUTPUT_FEATURES)
    channels = configs[blocks - 1].out_channels if blocks else int(_get(state_dict, "_conv_stem.weight").shape[0])
    return g.model("efficientnet_lite_trunk", inputs=[(INPUT_NAME, ["N", 3, image_size, image_size])],
                   outputs=[(OUTPUT_FEATURES, ["N", channels, g.size, g.size])],
                   producer_name="lookalike", producer_version=str(BUILDER_VERSION))


def write_feature_map(g: "GraphBuilder", configs: list[BlockConfig], head: bool = True) -> str:
    """Stem, the MBConv blocks of `configs` and (with `head`) the 1x1 head convolution:
    the name of the feature map they leave."""
    g.constant("relu6.min", np.array(0.0, dtype=np.float32))
    g.constant("relu6.max", np.array(6.0, dtype=np.float32))
    h = g.conv_bn(INPUT_NAME, "stem", "_conv_stem.weight", "_bn0", stride=_STEM_STRIDE)
    for cfg in configs:
        h = g.block(h, cfg)
    return g.conv_bn(h, "head", "_conv_head.weight", "_bn1") if head else h


def _checked_size(image_size: int) -> int:
    if image_size < 1:
        raise ValueError("image_size must be positive")
    return image_size

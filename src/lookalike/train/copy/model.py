"""The copy descriptor in training: EfficientNet-Lite0's first blocks frozen and run by
onnxruntime (no gradient needed there, and onnxruntime runs them several times faster
than torch on a CPU), its last blocks and head fine-tuned in torch, then GeM pooling and a
linear projection, L2-normalised.

Serving builds the same network as one ONNX graph (`lookalike.models.copy_descriptor`)
from the ImageNet weights and the trained branch: the trunk here is the serving graph's
first part, the branch `efficientnet.folded_state_dict` writes in the checkpoint layout.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import onnxruntime as ort

from ...models.efficientnet_lite import build_trunk_onnx
from ..efficientnet import folded_state_dict, trunk_and_branch
from ..torch_support import require_torch

require_torch()  # TorchMissing, with the extra to install, rather than an ImportError

import torch  # noqa: E402
from torch import nn  # noqa: E402

GEM_POWER = 3.0
GEM_EPS = 1e-6
PROJECTION_KEY = "_copy.projection"


def gem(features: Any, power: float = GEM_POWER) -> Any:
    """Generalised mean over the spatial positions: between average (p=1) and max pooling;
    p=3 lets the strongest local responses lead, so a crop's descriptor stays near its
    source's (Radenovic et al.; SSCD)."""
    return features.clamp(min=GEM_EPS).pow(power).mean(dim=(2, 3)).pow(1.0 / power)


class FrozenTrunk:
    """The stem and first blocks as an onnxruntime session at the training size."""

    def __init__(self, state_dict: Mapping[str, np.ndarray], image_size: int, blocks: int, threads: int) -> None:
        model = build_trunk_onnx(state_dict, image_size, blocks)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def __call__(self, pixels: np.ndarray) -> Any:
        (features,) = self._session.run(["features"], {"pixels": pixels})
        return torch.from_numpy(features).clone()  # torch-owned memory: 8x faster in the branch than onnxruntime's buffer


class CopyHead(nn.Module):
    """The trained part: the remaining blocks and head conv, GeM, projection, L2 norm."""

    def __init__(self, state_dict: Mapping[str, np.ndarray], first_trained_block: int, dim: int) -> None:
        super().__init__()
        _, self.branch = trunk_and_branch(state_dict, first_trained_block)
        width = int(state_dict["_conv_head.weight"].shape[0])
        self.projection = nn.Linear(width, dim)

    def forward(self, trunk_features: Any) -> Any:
        pooled = gem(self.branch(trunk_features))
        return nn.functional.normalize(self.projection(pooled), dim=1)

    def weights(self) -> dict[str, np.ndarray]:
        """The trained weights in the checkpoint's key layout (the projection under
        PROJECTION_KEY), float32."""
        entries = folded_state_dict(self.branch)
        entries[PROJECTION_KEY + ".weight"] = self.projection.weight.detach().numpy().astype(np.float32)
        entries[PROJECTION_KEY + ".bias"] = self.projection.bias.detach().numpy().astype(np.float32)
        return entries

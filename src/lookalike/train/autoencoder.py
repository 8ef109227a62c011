"""A small convolutional autoencoder trained on the user's images; its bottleneck code is
an embedding feature like any other (model file kind "autoencoder", input "pixels").

Three stride-2 convolutions take a side x side RGB image (side a multiple of 8, 64 by
default) to a 128 x side/8 x side/8 map, one linear layer to the code; the decoder mirrors
it with transposed convolutions. The exported feature is the code split by sign,
[relu(code), relu(-code)] (lookalike's float vectors are non-negative; a ReLU bottleneck
would lose units for good, the split loses nothing), so it has twice the code's width.
It learns from unlabelled pixels alone (reconstruction error), so it knows nothing the
pretrained network does not, and usually ranks worse than it: the held-out comparison
printed after training says so when it does. Its merits are elsewhere: no pretrained
weights, a small code, and a model that fits images unlike ImageNet's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..features.base import l2_normalise
from ..features.learned import pixels_for
from . import augment
from .data import ImageSet, Log
from .errors import NotEnoughData
from .heldout import Heldout, build_heldout
from .loop import fit
from .modelfile import Trained, TrainingResult, package
from .modules import SignSplit, to_layers
from .onnx_graph import OnnxRunner, build_onnx
from .torch_support import require_torch, seed_torch

require_torch()  # TorchMissing, with the extra to install, rather than an ImportError

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

WIDTHS = (32, 64, 128)


@dataclass(frozen=True)
class AutoencoderOptions:
    side: int = 64
    dim: int = 64  # code width; the feature has twice as many (see SignSplit)
    epochs: int = 15
    views: int = 2  # augmented views per training image, besides the image itself
    batch_size: int = 64
    learning_rate: float = 1e-3
    copies: int = 5  # edited copies per held-out image when there are no labels
    seed: int = 0


def build_autoencoder(side: int, dim: int) -> tuple[Any, Any]:
    """(encoder, decoder): pixels (N, 3, side, side) -> code (N, dim) -> pixels."""
    if side % 8 or side < 16:
        raise ValueError(f"the autoencoder's side must be a multiple of 8 and at least 16, not {side}")
    cells = side // 8
    encoder = nn.Sequential(
        nn.Conv2d(3, WIDTHS[0], 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(WIDTHS[0], WIDTHS[1], 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(WIDTHS[1], WIDTHS[2], 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(WIDTHS[2] * cells * cells, dim),
    )
    decoder = nn.Sequential(
        nn.Linear(dim, WIDTHS[2] * cells * cells), nn.ReLU(), nn.Unflatten(1, (WIDTHS[2], cells, cells)),
        nn.ConvTranspose2d(WIDTHS[2], WIDTHS[1], 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(WIDTHS[1], WIDTHS[0], 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(WIDTHS[0], 3, 4, stride=2, padding=1),
    )
    return encoder, decoder


def channel_statistics(images: list[Any], side: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of the training pixels (in [0, 1])."""
    pixels = pixels_for(images, side, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    return ([round(float(v), 6) for v in pixels.mean(axis=(0, 2, 3))],
            [round(max(float(v), 1e-3), 6) for v in pixels.std(axis=(0, 2, 3))])


def train_autoencoder(train: ImageSet, heldout: ImageSet | Heldout, out: str | Path,
                      options: AutoencoderOptions = AutoencoderOptions(), log: Log | None = None) -> TrainingResult:
    """Train on `train` (labels unused), measure on `heldout` (or a prepared `build_heldout`
    set), write the model file `out`."""
    if len(train) < 2:
        raise NotEnoughData(f"training needs at least 2 images, got {len(train)}")
    say = log or (lambda message: None)
    rng = np.random.default_rng(options.seed)
    seed_torch(options.seed)
    mean, std = channel_statistics(train.images, options.side)
    views = [view for group in augment.views_of(train.images, options.views, rng) for view in group]
    pixels = torch.from_numpy(pixels_for(views, options.side, mean, std))
    held = heldout if isinstance(heldout, Heldout) else build_heldout(heldout, options.copies, options.seed, say)
    encoder, losses = fit_autoencoder(pixels, options, rng, say)
    feature = nn.Sequential(encoder, SignSplit())
    onnx = build_onnx(to_layers(feature), ["N", 3, options.side, options.side], 2 * options.dim,
                      "lookalike_autoencoder_encoder")
    runner = OnnxRunner(onnx)
    trained = Trained(
        kind="autoencoder", onnx=onnx, dim=2 * options.dim,
        input={"type": "pixels", "side": options.side, "mean": mean, "std": std},
        heldout_inputs=pixels_for(held.images, options.side, mean, std),
        embed_images=lambda images: l2_normalise(runner(pixels_for(images, options.side, mean, std))),
        losses=losses,
        trained={"options": asdict(options), "train_images": len(train), "train_views": len(views)},
    )
    return package(trained, held, out, options.seed, say)


def fit_autoencoder(pixels: Any, options: AutoencoderOptions, rng: np.random.Generator,
                    log: Log) -> tuple[Any, list[float]]:
    """Train encoder and decoder on reconstruction error; returns (encoder, epoch losses)."""
    encoder, decoder = build_autoencoder(options.side, options.dim)
    model = nn.Sequential(encoder, decoder)
    batch_size = min(options.batch_size, len(pixels))
    order: list[np.ndarray] = []

    def batch_loss() -> Any:
        if not order or len(order[0]) < batch_size:
            order[:] = [rng.permutation(len(pixels))]
        rows, order[0] = order[0][:batch_size], order[0][batch_size:]
        batch = pixels[torch.from_numpy(rows)]
        return F.mse_loss(model(batch), batch)

    log(f"training the autoencoder ({options.side}x{options.side} -> {options.dim}, {options.epochs} epochs) "
        f"on {len(pixels)} views")
    steps = max(1, -(-len(pixels) // batch_size))
    losses = fit(model, batch_loss, options.epochs, steps, options.learning_rate, log=log)
    return encoder, losses

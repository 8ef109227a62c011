"""A siamese head on the frozen pretrained embedding, trained on the user's own images.

Positives are augmented views of one image (no labels: learn the invariances a copy
detector needs, e.g. rotation by any angle) or images sharing a label (--label-from: learn
the user's notion of "the same"); negatives are mostly hard ones, the other-label images
the backbone alone ranks closest. Backbone embeddings of every view are computed once with
onnxruntime; only the head trains in torch, which keeps training to minutes on two CPU cores.

The head is residual, relu(x + MLP(x)) on the L2-normalised EfficientNet-Lite0 embedding,
its last layer zeroed: training starts from exactly the pretrained feature, and a pull back
toward it (`stay`: the mean cosine distance of the anchors' new vectors to their pretrained
ones) keeps it from wandering where the pairs say nothing. Without it, a head trained on a
few dozen photos memorises them and ranks unseen ones worse than the backbone alone (the
benchmark's photos: held-out mAP 0.976 -> 0.74; with it, 0.99).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..features.base import l2_normalise
from . import augment, backbone
from .data import ImageSet, Log, group_ids
from .errors import NotEnoughData
from .heldout import Heldout, build_heldout
from .loop import fit
from .losses import LOSSES
from .modelfile import Trained, TrainingResult, package
from .modules import Residual, to_layers
from .onnx_graph import OnnxRunner, build_onnx
from .pairs import TripletSampler, hard_negatives
from .torch_support import require_torch, seed_torch

require_torch()  # TorchMissing, with the extra to install, rather than an ImportError

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


@dataclass(frozen=True)
class SiameseOptions:
    loss: str = "infonce"
    epochs: int = 30
    views: int = 4  # augmented views per training image, besides the image itself
    hidden: int = 512
    batch_size: int = 64
    learning_rate: float = 1e-3
    hard_negatives: int = 10
    stay: float = 1.0  # weight of the pull back toward the pretrained embedding (see fit_head)
    copies: int = 5  # edited copies per held-out image when there are no labels
    seed: int = 0


def build_head(dim: int, hidden: int) -> Any:
    """relu(x + W2 relu(W1 x + b1) + b2), starting as the identity on non-negative x."""
    body_out = nn.Linear(hidden, dim)
    nn.init.zeros_(body_out.weight)
    nn.init.zeros_(body_out.bias)
    return nn.Sequential(Residual(nn.Linear(dim, hidden), nn.ReLU(), body_out), nn.ReLU())


def train_siamese(train: ImageSet, heldout: ImageSet | Heldout, out: str | Path,
                  options: SiameseOptions = SiameseOptions(), log: Log | None = None,
                  bank: np.ndarray | None = None) -> TrainingResult:
    """Train on `train`, measure on `heldout`, write the model file `out`. A prepared
    held-out set (`build_heldout`) and view bank (`view_bank`) may be passed in, so that
    several runs over the same images (the benchmark's losses) embed them only once."""
    if options.loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {options.loss!r}")
    if len(train) < 2:
        raise NotEnoughData(f"training needs at least 2 images, got {len(train)}")
    say = log or (lambda message: None)
    seed_torch(options.seed)
    if bank is None:
        bank = view_bank(train, options, say)
    held = heldout if isinstance(heldout, Heldout) else build_heldout(heldout, options.copies, options.seed, say)
    groups = group_ids(train.labels)
    head, losses = fit_head(bank, groups, options, np.random.default_rng(options.seed + 3), say)
    onnx = build_onnx(to_layers(head), ["N", bank.shape[2]], bank.shape[2], "lookalike_siamese_head")
    runner = OnnxRunner(onnx)
    trained = Trained(
        kind="siamese", onnx=onnx, dim=bank.shape[2],
        input={"type": "embedding", "backbone": backbone.BACKBONE},
        heldout_inputs=held.pretrained,
        embed_images=lambda images: l2_normalise(runner(backbone.embed(images))),
        losses=losses,
        trained={"options": asdict(options), "train_images": len(train), "labels": train.labelled,
                 "train_groups": int(len(np.unique(groups)))},
    )
    return package(trained, held, out, options.seed, say)


def view_bank(train: ImageSet, options: SiameseOptions, log: Log | None = None) -> np.ndarray:
    """Backbone embeddings of every training image and its augmented views: (images, 1 + views, dim)."""
    if log:
        log(f"embedding {len(train) * (options.views + 1)} training views ({options.views} augmented per image)")
    views = augment.views_of(train.images, options.views, np.random.default_rng(options.seed))
    return backbone.embed_views(views)


def fit_head(bank: np.ndarray, groups: np.ndarray, options: SiameseOptions, rng: np.random.Generator,
             log: Log) -> tuple[Any, list[float]]:
    """Train the head on the view bank (images, views, dim); returns (head, epoch losses).
    The loss is the pair loss plus `options.stay` x the anchors' drift from their
    pretrained vectors."""
    images, views, dim = bank.shape
    negatives = hard_negatives(bank[:, 0], groups, options.hard_negatives)
    sampler = TripletSampler(groups, views, negatives, rng)
    flat = torch.from_numpy(np.ascontiguousarray(bank.reshape(images * views, dim), dtype=np.float32))
    head = build_head(dim, options.hidden)
    loss_function = LOSSES[options.loss]
    batch_size = min(options.batch_size, images * views)

    def batch_loss() -> Any:
        batch = sampler.batch(batch_size)
        inputs = [flat[torch.from_numpy(rows)] for rows in (batch.anchors, batch.positives, batch.negatives)]
        anchors, positives, negatives = (F.normalize(head(x), dim=1) for x in inputs)
        pair_loss = loss_function(anchors, positives, negatives, torch.from_numpy(batch.anchor_groups),
                                  torch.from_numpy(batch.negative_groups))
        drift = 1 - (anchors * inputs[0]).sum(dim=1).mean()  # inputs are unit vectors
        return pair_loss + options.stay * drift

    log(f"training the head ({options.loss} loss, {options.epochs} epochs) on {images} images")
    losses = fit(head, batch_loss, options.epochs, sampler.steps_per_epoch(batch_size), options.learning_rate, log=log)
    return head, losses

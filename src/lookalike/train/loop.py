"""The one training loop both trainers use: Adam with a cosine learning-rate decay,
gradient clipping, and the mean loss of every epoch reported and returned (a falling
curve is the first sign training worked)."""

from __future__ import annotations

import math
from typing import Any, Callable

from .data import Log
from .torch_support import require_torch

require_torch()  # TorchMissing, with the extra to install, rather than an ImportError

import torch  # noqa: E402

MAX_GRADIENT_NORM = 5.0
# The networks trained here are small: on a busy two-core machine (onnxruntime, another
# job) torch's OpenMP threads spend more time waiting for each other than computing --
# measured 5x slower than one thread on the siamese head.
THREADS = 1


def fit(model: Any, batch_loss: Callable[[], Any], epochs: int, steps_per_epoch: int,
        learning_rate: float = 1e-3, weight_decay: float = 1e-4, log: Log | None = None) -> list[float]:
    """Train `model` in place: `batch_loss()` draws the next batch and returns its loss
    tensor. Returns the mean loss of each epoch."""
    if epochs < 1 or steps_per_epoch < 1:
        raise ValueError("need at least one epoch of at least one step")
    torch.set_num_threads(THREADS)
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    total = epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
    history = []
    model.train()
    for epoch in range(epochs):
        losses = []
        for _ in range(steps_per_epoch):
            loss = batch_loss()
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRADIENT_NORM)
            optimiser.step()
            schedule.step()
            losses.append(float(loss.detach()))
        history.append(sum(losses) / len(losses))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f}")
    model.eval()
    return history

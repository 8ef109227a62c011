"""The SSCD objective: InfoNCE between two edited views of each picture in a batch, plus
the KoLeo entropy regulariser.

InfoNCE asks each view to pick its partner among every other view of the batch, so the
other pictures, alike in kind, are the negatives. KoLeo (-mean log of each descriptor's
distance to its nearest neighbour among one view of each picture) spreads descriptors of
different pictures apart, which is what lets one threshold separate copies from look-alikes.
"""

from __future__ import annotations

from typing import Any

from ..torch_support import require_torch

require_torch()

import torch  # noqa: E402

TEMPERATURE = 0.05
KOLEO_WEIGHT = 10.0


def infonce(first: Any, second: Any, temperature: float = TEMPERATURE) -> Any:
    """Symmetric InfoNCE over 2n L2-normalised descriptors: row i of `first` and of
    `second` are views of one picture."""
    both = torch.cat([first, second])
    similarity = both @ both.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    n = first.shape[0]
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return torch.nn.functional.cross_entropy(similarity, targets)


def koleo(descriptors: Any, eps: float = 1e-8) -> Any:
    """-mean log distance of each descriptor to its nearest other one."""
    with torch.no_grad():
        similarity = descriptors @ descriptors.T
        similarity.fill_diagonal_(-2.0)
        nearest = similarity.argmax(dim=1)
    distance = (descriptors - descriptors[nearest]).norm(dim=1)
    return -torch.log(distance + eps).mean()


def copy_loss(first: Any, second: Any, koleo_weight: float = KOLEO_WEIGHT) -> tuple[Any, dict[str, float]]:
    contrast = infonce(first, second)
    spread = (koleo(first) + koleo(second)) / 2  # one view per picture: partners are not neighbours to push
    total = contrast + koleo_weight * spread
    return total, {"infonce": float(contrast.detach()), "koleo": float(spread.detach())}

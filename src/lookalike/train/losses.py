"""The three metric-learning losses `lookalike train siamese --loss` offers.

Each takes L2-normalised embeddings of a batch's anchors, positives and negatives (B, D)
and the group ids of anchors and negatives, and returns a scalar tensor:

- infonce: each anchor must pick its positive out of every positive and negative in the
  batch (softmax over cosines / temperature; SimCLR/CLIP style). Uses all 2B - 1 others as
  negatives, so it usually learns fastest. Other anchors' positives that share the
  anchor's group are not counted as negatives.
- triplet: cosine distance to the positive must beat the distance to the negative by a margin.
- contrastive: positive pairs pulled together, negative pairs pushed beyond a margin
  (Hadsell, Chopra & LeCun 2006; the pyimagesearch siamese network).
"""

from __future__ import annotations

from typing import Any, Callable

from .torch_support import require_torch

require_torch()  # TorchMissing, with the extra to install, rather than an ImportError

import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

TEMPERATURE = 0.1
TRIPLET_MARGIN = 0.2  # in cosine distance
CONTRASTIVE_MARGIN = 1.0  # in Euclidean distance between unit vectors (cosine 0.5)


def info_nce(anchors: Any, positives: Any, negatives: Any, anchor_groups: Any, negative_groups: Any) -> Any:
    candidates = torch.cat([positives, negatives])
    candidate_groups = torch.cat([anchor_groups, negative_groups])
    logits = anchors @ candidates.T / TEMPERATURE
    own = torch.arange(len(anchors))
    same_group = anchor_groups[:, None] == candidate_groups[None, :]
    same_group[own, own] = False  # the anchor's own positive stays the target
    logits = logits.masked_fill(same_group, float("-inf"))
    return F.cross_entropy(logits, own)


def triplet(anchors: Any, positives: Any, negatives: Any, anchor_groups: Any, negative_groups: Any) -> Any:
    positive_distance = 1 - (anchors * positives).sum(dim=1)
    negative_distance = 1 - (anchors * negatives).sum(dim=1)
    return F.relu(positive_distance - negative_distance + TRIPLET_MARGIN).mean()


def contrastive(anchors: Any, positives: Any, negatives: Any, anchor_groups: Any, negative_groups: Any) -> Any:
    positive_distance = (anchors - positives).norm(dim=1)
    negative_distance = (anchors - negatives).norm(dim=1)
    return (positive_distance.pow(2) + F.relu(CONTRASTIVE_MARGIN - negative_distance).pow(2)).mean() / 2


LOSSES: dict[str, Callable[..., Any]] = {"infonce": info_nce, "triplet": triplet, "contrastive": contrastive}

"""The one place that imports torch: a clear error when the extra is missing, and a
deterministic, CPU-friendly setup when it is there.

Modules that need torch call `require_torch()` at import time, so importing them without
the extra raises `TorchMissing` (a LookalikeError) instead of a bare ImportError, and the
`lookalike train` command group itself imports none of them until a command runs.
"""

from __future__ import annotations

from typing import Any

from .errors import TorchMissing


def require_torch() -> Any:
    """The torch module, or TorchMissing naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise TorchMissing() from None
    return torch


def torch_available() -> bool:
    try:
        require_torch()
    except TorchMissing:
        return False
    return True


def seed_torch(seed: int) -> None:
    """Same seed, same weights: every random draw of a training run goes through this
    seed (numpy draws use their own Generator seeded from the same number)."""
    require_torch().manual_seed(seed)

"""Errors of `lookalike train`: each says what went wrong and what to do about it."""

from __future__ import annotations

from ..errors import LookalikeError


class TrainingError(LookalikeError):
    """Training could not run or produced nothing usable."""


class TorchMissing(TrainingError):
    """The optional training dependency is not installed (indexing and search never need it)."""

    def __init__(self) -> None:
        super().__init__(
            "training needs PyTorch, an optional extra that indexing and search do not use: "
            "pip install 'lookalike[train]'"
        )


class NotEnoughData(TrainingError):
    """Too few images, labels or pairs to train on or to measure on."""

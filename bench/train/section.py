"""One data set's results in the training benchmark: its metric columns, training times,
the trained models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lookalike.train.modelfile import TrainingResult


@dataclass
class Section:
    """One data set's results: columns of metrics, and what else to say about them."""

    title: str
    description: str
    columns: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    models: list[TrainingResult] = field(default_factory=list)
    classifier_rows: list[list[str]] = field(default_factory=list)  # texture: per set, its classifier

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "seconds": self.seconds,
                "models": [m.to_dict() for m in self.models]}


def model_label(result: TrainingResult) -> str:
    options = result.config["trained"]["options"]
    return f"siamese ({options['loss']})" if result.kind == "siamese" else "autoencoder"

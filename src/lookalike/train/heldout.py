"""Before/after on held-out images, measured by `lookalike evaluate`'s own code.

The held-out vectors go into a scratch store (one feature: the pretrained embedding, or
the model file just written) and `evaluate_store` scores it exactly as `lookalike
evaluate` scores a labelled folder: every image queries the others, images with its label
are the right answers, the same/different verdict is swept over every threshold. The
"after" store is opened from the model file itself, so the numbers are those of the file
that `lookalike index --model` will use, not of the torch weights.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..edits import EDITS, rotate
from ..evaluate import EvaluationReport, evaluate_store
from ..settings import Settings
from ..store import NewImage, open_store
from . import backbone
from .data import ImageSet, Log

# (row name, how to read it from EvaluationReport.to_dict())
METRICS: tuple[tuple[str, Any], ...] = (
    ("mAP", lambda d: d["map"]),
    ("mAP@10", lambda d: d["map_at_10"]),
    ("precision@1", lambda d: d["precision_at"][1]),
    ("precision@5", lambda d: d["precision_at"][5]),
    ("recall@10", lambda d: d["recall_at"][10]),
    ("best F1 (same/different)", lambda d: d["best_f1"]["f1"]),
)


@dataclass
class Heldout:
    """Held-out images, the label that says which of them are "the same" (a real label,
    or for unlabelled folders the image an edited copy was made from), and the pretrained
    embedding of each (the "before" and the reference every model is compared with)."""

    images: list[Image.Image]
    labels: list[str]
    pretrained: np.ndarray
    originals: int  # the first `originals` images are not edited copies

    @property
    def original_images(self) -> list[Image.Image]:
        return self.images[: self.originals]

    def groups(self) -> np.ndarray:
        _, inverse = np.unique(np.array(self.labels, dtype=str), return_inverse=True)
        return inverse.astype(np.int64)


def evaluate_vectors(vectors: np.ndarray, labels: Sequence[str], feature: str | None = None,
                     model: Path | None = None) -> EvaluationReport:
    """Evaluate one feature's vectors of labelled images: a built-in `feature`, or the
    feature of the model file `model`."""
    if (feature is None) == (model is None):
        raise ValueError("give a feature name or a model file")
    with tempfile.TemporaryDirectory(prefix="lookalike-heldout-") as scratch:
        settings = Settings(db=Path(scratch) / "heldout.db", features=(feature,) if feature else (), model=model)
        with open_store(settings) as store:
            (spec,) = store.specs
            with store.writing():
                store.add_batch([_scratch_image(scratch, row, label) for row, label in enumerate(labels)],
                                {spec.name: np.ascontiguousarray(vectors, dtype=np.float32)}, [])
            return evaluate_store(store, examples=0)


def _scratch_image(folder: str, row: int, label: str) -> NewImage:
    return NewImage(path=f"{folder}/heldout-{row:06d}", mtime_ns=0, size=0,
                    sha256=hashlib.sha256(f"heldout {row}".encode()).hexdigest(),
                    width=1, height=1, format="PNG", label=label)


def summary(report: EvaluationReport) -> dict[str, float]:
    """The table rows of one evaluation (ranking metrics and the verdict's best F1)."""
    data = report.to_dict()
    return {name: round(float(read(data)), 4) for name, read in METRICS}


def build_heldout(images: ImageSet, copies: int, seed: int, log: Log | None = None) -> Heldout:
    """The held-out set to measure on. Labelled images are measured by their labels. For
    unlabelled ones "the same" means "an edited copy": each image gets `copies` copies made
    with `lookalike.edits` (its named edits, captions and borders among them, which training
    views never show, plus a turn by a random angle) rather than with the training
    augmentations, so the numbers are not flattered by their distribution."""
    if images.labelled:
        pictures = list(images.images)
        labels = [label or f"unlabelled-{row}" for row, label in enumerate(images.labels)]
    else:
        pictures, labels = edited_copies(images.images, copies, np.random.default_rng(seed + 1))
    if log:
        log(f"embedding {len(pictures)} held-out images with the pretrained backbone")
    return Heldout(pictures, labels, backbone.embed(pictures), len(images))


def edited_copies(originals: Sequence[Image.Image], copies: int,
                  rng: np.random.Generator) -> tuple[list[Image.Image], list[str]]:
    """The originals first, then their copies; labels name the original."""
    names = sorted(EDITS)
    pictures, labels = list(originals), [f"image-{row}" for row in range(len(originals))]
    for row, original in enumerate(originals):
        for choice in rng.choice(len(names) + 1, size=min(copies, len(names) + 1), replace=False):
            edit = EDITS[names[choice]] if choice < len(names) else rotate(float(rng.uniform(10, 350)))
            pictures.append(edit(original).convert("RGB"))
            labels.append(f"image-{row}")
    return pictures, labels

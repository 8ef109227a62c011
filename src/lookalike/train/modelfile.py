"""From a trained network's ONNX graph to a measured, versioned model file, and its report.

Shared by every trainer: run the graph on the held-out inputs with onnxruntime (what
`lookalike index --model` will run), measure the anchors, the probability head and the
invariance on held-out pairs, evaluate before (pretrained embedding) and after (the model
file) with `lookalike evaluate`'s code, and write the file with all of that recorded in it.
"""

from __future__ import annotations

import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..features.base import l2_normalise
from ..features.learned import read_model_file, write_model_file
from . import calibration
from .backbone import BACKBONE
from .data import Log
from .heldout import Heldout, evaluate_vectors, summary
from .onnx_graph import OnnxRunner
from .pairs import labelled_pairs


@dataclass
class TrainingResult:
    """What a training run produced and how it measured on held-out images."""

    kind: str
    path: Path
    feature: str  # the learned feature's name in a store (kind-sha8)
    before: dict[str, float]  # the pretrained embedding alone
    after: dict[str, float]  # the model file's feature alone
    losses: list[float]
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path), "feature": self.feature, "before": self.before,
                "after": self.after, "losses": self.losses, "near": self.config["near"], "far": self.config["far"],
                "invariance": self.config["invariance"], "probability": self.config["probability"],
                "notes": self.notes}


@dataclass
class Trained:
    """A trainer's output, before measuring: the graph, how to feed it, and provenance."""

    kind: str
    onnx: bytes
    dim: int
    input: dict[str, Any]  # the model file's "input" entry
    heldout_inputs: np.ndarray  # the held-out images as the graph's input
    embed_images: calibration.Embed  # PIL images -> L2-normalised vectors, through the graph
    losses: list[float]
    trained: dict[str, Any]  # free-form provenance (options, data sizes)


def package(trained: Trained, heldout: Heldout, out: str | Path, seed: int, log: Log | None = None) -> TrainingResult:
    """Measure `trained` on `heldout`, write the model file at `out` and compare it with
    the pretrained embedding."""
    say: Callable[[str], None] = log or (lambda message: None)
    vectors = l2_normalise(OnnxRunner(trained.onnx)(trained.heldout_inputs))
    first, second, same = labelled_pairs(heldout.groups(), np.random.default_rng(seed + 2))
    similarities = calibration.cosines(vectors, first, second)
    near, far = calibration.anchors(similarities, same)
    say("measuring invariance to turns and mirroring")
    invariance, measured = calibration.measure_invariance(trained.embed_images, heldout.original_images, near)
    config: dict[str, Any] = {
        "kind": trained.kind,
        "dim": trained.dim,
        "input": trained.input,
        "near": near,
        "far": far,
        "invariance": invariance,
        "probability": calibration.fit_probability(similarities, same),
        "trained": {**trained.trained, **_provenance(), "losses": [round(x, 6) for x in trained.losses],
                    "invariance_measured": measured, "heldout_images": len(heldout.labels),
                    "heldout_pairs": {"positive": int(same.sum()), "negative": int((~same).sum())}},
    }
    say("evaluating the pretrained embedding and the new model on the held-out images")
    before = summary(evaluate_vectors(heldout.pretrained, heldout.labels, feature=BACKBONE))
    with tempfile.TemporaryDirectory(prefix="lookalike-model-") as scratch:
        draft = write_model_file(Path(scratch) / "draft.lookalike", config, trained.onnx)
        after = summary(evaluate_vectors(vectors, heldout.labels, model=draft))
    config["trained"]["heldout_before"], config["trained"]["heldout_after"] = before, after
    path = write_model_file(out, config, trained.onnx)
    result = TrainingResult(trained.kind, Path(path), read_model_file(path).feature_name, before, after,
                            trained.losses, config)
    result.notes = _notes(result)
    return result


def _provenance() -> dict[str, Any]:
    import onnxruntime

    import lookalike

    versions = {"lookalike": lookalike.__version__, "onnxruntime": onnxruntime.__version__,
                "python": platform.python_version()}
    try:
        import torch

        versions["torch"] = torch.__version__
    except ImportError:  # a model file can be packaged from weights trained elsewhere
        pass
    return versions


def _notes(result: TrainingResult) -> list[str]:
    """Plain statements about the result a user should not miss."""
    notes = []
    after, before = result.after["mAP"], result.before["mAP"]
    if after < before:
        notes.append(f"the {result.kind} model ranks worse than the pretrained embedding on the held-out images "
                     f"(mAP {after:.4f} vs {before:.4f}): keep the pretrained embedding, or train on more images")
    elif after == before:
        notes.append(f"the {result.kind} model ranks the held-out images no better than the pretrained embedding "
                     f"(mAP {after:.4f} both): it adds nothing here")
    measured = result.config["trained"]["invariance_measured"]
    notes.append(f"invariance: {result.config['invariance']} (5th-percentile similarity to the upright image: "
                 f"mirrored {measured['mirror']:.3f}, turned {measured['dihedral']:.3f}; "
                 f"needed {measured['needed']:.3f})")
    return notes

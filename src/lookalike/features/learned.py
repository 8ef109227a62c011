"""Features learned from the user's own images (`lookalike train ...`), loaded from a model file.

A model file is a zip holding:
- `model.json`: {"format": 1, "kind": "siamese" | "autoencoder", "dim": D,
  "input": {"type": "embedding", "backbone": "effnet_lite0"}            (a head on the CNN)
        or {"type": "pixels", "side": S, "mean": [r, g, b], "std": [r, g, b]},
  "near": float, "far": float,           calibration anchors measured on held-out pairs
  "invariance": "none" | "mirror" | "dihedral",
  "probability": {"scale": a, "bias": b} (optional: P(same) = sigmoid(a * cosine + b)),
  "trained": {...}}                       free-form provenance and metrics
- `model.onnx`: input "input" ([N, backbone dim] or [N, 3, S, S]), output "embedding" [N, D].

The feature's name and version come from the file's SHA-256, so a store records exactly
which model made its vectors and refuses vectors from any other.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from ..errors import LookalikeError
from .base import Extractor, FeatureSpec, l2_normalise

MODEL_FORMAT = 1


class ModelFileError(LookalikeError):
    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    config: dict[str, Any]
    onnx: bytes

    @property
    def feature_name(self) -> str:
        return f"{self.config['kind']}-{self.sha256[:8]}"


def read_model_file(path: str | Path) -> ModelFile:
    path = Path(path)
    try:
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            config = json.loads(archive.read("model.json"))
            onnx = archive.read("model.onnx")
    except FileNotFoundError:
        raise ModelFileError(path, "no such model file") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelFileError(path, f"not a lookalike model file ({exc})") from None
    if config.get("format") != MODEL_FORMAT:
        raise ModelFileError(path, f"model format {config.get('format')!r}, this lookalike reads {MODEL_FORMAT}")
    return ModelFile(path.resolve(), hashlib.sha256(data).hexdigest(), config, onnx)


def write_model_file(path: str | Path, config: dict[str, Any], onnx: bytes) -> Path:
    """Write a model file (deterministically: same content, same bytes, same feature name)."""
    path = Path(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (("model.json", json.dumps({**config, "format": MODEL_FORMAT}, indent=1,
                                                          sort_keys=True).encode()), ("model.onnx", onnx)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


class LearnedExtractor(Extractor):
    """An extractor over a model file; `spec` is per instance (one per model)."""

    def __init__(self, model: ModelFile) -> None:
        import onnxruntime as ort

        self.model = model
        config = model.config
        side = config["input"].get("side", 224)
        self.spec = FeatureSpec(  # type: ignore[misc]
            name=model.feature_name,
            version=model.sha256[:16],
            kind="float",
            dim=int(config["dim"]),
            input_side=int(side),
            near=float(config["near"]),
            far=float(config["far"]),
            family="embedding",
            description=f"{config['kind']} model {model.path.name} ({config['dim']}-d)",
            invariance=config.get("invariance", "none"),
            source=str(model.path),
        )
        options = ort.SessionOptions()
        self._session = ort.InferenceSession(model.onnx, options, providers=["CPUExecutionProvider"])

    def attach(self, extractor_of: Callable[[str], Extractor]) -> None:
        self._extractor_of = extractor_of  # the backbone a head reads from

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        (embedding,) = self._session.run(["embedding"], {"input": self._inputs(images)})
        return l2_normalise(embedding)

    def _inputs(self, images: list[Image.Image]) -> np.ndarray:
        source = self.model.config["input"]
        if source["type"] == "embedding":
            return self._extractor_of(source["backbone"]).extract_batch(images)
        return pixels_for(images, int(source["side"]), source["mean"], source["std"])

    def probability(self, cosine: np.ndarray) -> np.ndarray | None:
        """P(same) from a cosine, if the model was trained with a probability head."""
        head = self.model.config.get("probability")
        if not head:
            return None
        return 1.0 / (1.0 + np.exp(-(head["scale"] * np.asarray(cosine) + head["bias"])))


def pixels_for(images: list[Image.Image], side: int, mean: list[float], std: list[float]) -> np.ndarray:
    """Squash-resize to side x side, scale to [0, 1], normalise per channel: NCHW float32."""
    batch = np.stack([
        np.asarray(image.convert("RGB").resize((side, side), Image.Resampling.BILINEAR, reducing_gap=3.0),
                   dtype=np.float32) / 255.0
        for image in images
    ])
    batch = (batch - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

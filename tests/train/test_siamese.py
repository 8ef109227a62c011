"""The siamese head: every loss trains (the loss falls), the hand-written ONNX graph
computes what torch computes, and a trained model file works in a store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lookalike import Collection, Settings  # noqa: E402
from lookalike.features.base import l2_normalise  # noqa: E402
from lookalike.features.learned import read_model_file  # noqa: E402
from lookalike.features.learned import read_model_file  # noqa: E402
from lookalike.train.data import from_images, group_ids  # noqa: E402
from lookalike.train.losses import LOSSES  # noqa: E402
from lookalike.train.modules import to_layers  # noqa: E402
from lookalike.train.onnx_graph import OnnxRunner, build_onnx  # noqa: E402
from lookalike.train.siamese import SiameseOptions, build_head, fit_head, train_siamese  # noqa: E402

from .conftest import PHOTOS, small_photo  # noqa: E402


def synthetic_bank(images: int = 24, views: int = 4, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Views of one image are its centre plus noise; centres are close to one another,
    so the backbone alone confuses them a little."""
    rng = np.random.default_rng(seed)
    centres = np.abs(rng.normal(size=(1, dim))) + 0.6 * np.abs(rng.normal(size=(images, dim)))
    views_ = centres[:, None, :] + 0.35 * np.abs(rng.normal(size=(images, views, dim)))
    return l2_normalise(views_.reshape(-1, dim)).reshape(images, views, dim)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_each_loss_falls(loss: str) -> None:
    torch.manual_seed(0)
    bank = synthetic_bank()
    options = SiameseOptions(loss=loss, epochs=12, hidden=64, batch_size=12, learning_rate=3e-3, stay=0.0)
    _, losses = fit_head(bank, group_ids([None] * len(bank)), options, np.random.default_rng(0), lambda m: None)
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_stay_keeps_the_head_near_the_pretrained_embedding() -> None:
    bank = synthetic_bank()
    groups = group_ids([None] * len(bank))

    def drift(stay: float) -> float:
        torch.manual_seed(0)
        options = SiameseOptions(epochs=8, hidden=64, batch_size=12, learning_rate=3e-3, stay=stay)
        head, _ = fit_head(bank, groups, options, np.random.default_rng(0), lambda m: None)
        with torch.no_grad():
            moved = l2_normalise(head(torch.from_numpy(bank[:, 0])).numpy())
        return float(1 - (moved * bank[:, 0]).sum(axis=1).mean())

    assert drift(10.0) < 0.5 * drift(0.0)


def test_head_starts_as_the_identity_and_exports_exactly() -> None:
    vectors = synthetic_bank()[:, 0]
    head = build_head(32, 16)
    with torch.no_grad():
        assert np.allclose(head(torch.from_numpy(vectors)).numpy(), vectors)
        for parameter in head.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
        expected = head(torch.from_numpy(vectors)).numpy()
    actual = OnnxRunner(build_onnx(to_layers(head), ["N", 32], 32))(vectors)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    photos = [small_photo(name) for name in PHOTOS]
    out = tmp_path_factory.mktemp("siamese") / "photos.lookalike"
    options = SiameseOptions(epochs=3, views=2, hidden=64, copies=2)
    return train_siamese(from_images(photos[:6]), from_images(photos[6:]), out, options)


def test_model_file_records_what_was_measured(trained) -> None:
    model = read_model_file(trained.path)
    config = model.config
    assert config["kind"] == "siamese" and config["input"] == {"type": "embedding", "backbone": "effnet_lite0"}
    assert 0 <= config["far"] < config["near"] <= 1 and config["dim"] == 1280
    assert config["invariance"] in ("none", "mirror", "dihedral")
    assert config["probability"]["scale"] > 0
    assert config["trained"]["heldout_after"] == trained.after and len(trained.losses) == 3
    assert model.feature_name == trained.feature
    assert set(trained.before) == set(trained.after) and all(0 <= v <= 1 for v in trained.after.values())


def test_model_file_indexes_and_searches(trained, tmp_path: Path, photo_folder: Path) -> None:
    spec = read_model_file(trained.path)
    settings = Settings(db=tmp_path / "s.db", features=("phash",), model=trained.path)
    with Collection(settings=settings) as collection:
        collection.index([photo_folder])
        best = collection.search(photo_folder / "coffee-original.png", k=1)[0]
    assert best.image.path.endswith("coffee-original.png") and best.evidence[spec.feature_name] == pytest.approx(1.0)


def test_compare_with_a_model_file_gives_p_same(trained, photo_folder: Path) -> None:
    """`compare --model FILE`: the learned feature joins the evidence and its calibrated
    head turns its similarity into P(same): higher for a copy than for another photo."""
    from click.testing import CliRunner

    from lookalike.api import compare
    from lookalike.cli import main

    spec = read_model_file(trained.path)
    settings = Settings(features=("phash",), model=trained.path)
    copy = compare(photo_folder / "coffee-original.png", photo_folder / "coffee-original.png", settings, keypoints=False)
    other = compare(photo_folder / "coffee-original.png", photo_folder / "moon-original.png", settings, keypoints=False)
    assert spec.feature_name in copy.evidence and copy.probability is not None and other.probability is not None
    assert 0.0 <= other.probability < copy.probability <= 1.0
    assert copy.to_dict()["probability"] == round(copy.probability, 4)
    assert compare(photo_folder / "coffee-original.png", photo_folder / "moon-original.png",
                   Settings(features=("phash",)), keypoints=False).probability is None
    result = CliRunner().invoke(main, ["compare", str(photo_folder / "coffee-original.png"),
                                       str(photo_folder / "moon-original.png"), "--model", str(trained.path)])
    assert result.exit_code == 1 and "P(same)" in result.output, result.output

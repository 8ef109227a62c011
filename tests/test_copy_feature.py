"""The shipped copy descriptor on real photos: edited copies, heavy crops included, stay
nearer their source than any other photo; the window descriptors come from the same pass;
the weights file is the size, precision and calibration it claims."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.demo import sample_image
from lookalike.edits import EDITS, border, crop, letterbox, screenshot
from lookalike.features.copy import COPY_REGION_EXTRACTORS, CopyDescriptor
from lookalike.features.regions import WINDOWS
from lookalike.models.copy_descriptor import shipped_weights
from lookalike.runtime import Runtime
from lookalike.settings import Settings

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "horse", "moon", "retina", "hubble_deep_field")


@pytest.fixture(scope="module")
def runtime():
    runtime = Runtime(Settings())
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def photos():
    return [sample_image(name).convert("RGB") for name in PHOTOS]


def test_weights_are_small_half_precision_and_calibrated_as_declared():
    arrays, metadata = shipped_weights("copy_lite0.npz")
    from importlib.resources import files

    assert files("lookalike.models.weights").joinpath("copy_lite0.npz").stat().st_size <= 10_000_000
    assert arrays["_copy.projection.weight"].shape == (CopyDescriptor.spec.dim, 1280)
    held = metadata["heldout"]
    # FeatureSpec's anchors are the training run's own held-out figures
    assert CopyDescriptor.spec.near == pytest.approx(held["copy_similarity"]["p5"], abs=0.03)
    assert CopyDescriptor.spec.far == pytest.approx(held["best_non_copy_similarity"]["p50"], abs=0.03)
    assert metadata["steps"] == metadata["config"]["steps"]


def test_edited_copies_are_nearest_their_source(runtime, photos):
    extractor = runtime.extractor("copy_lite0")
    stored = extractor.extract_batch(photos)
    edits = [EDITS["jpeg15"], EDITS["crop70-corner"], EDITS["caption"], EDITS["recolour"], border(0.1, "black"),
             letterbox(), screenshot(), crop(0.71, (1.0, 0.0))]
    for edit in edits:
        copies = extractor.extract_batch([edit(photo) for photo in photos])
        similarity = copies @ stored.T
        assert (similarity.argmax(axis=1) == np.arange(len(photos))).all()


def test_window_descriptors_come_with_the_global_one(runtime, photos):
    extractor = runtime.extractor("copy_lite0")
    whole, windows = extractor.describe(photos[:3])
    assert windows.shape == (3, len(WINDOWS), CopyDescriptor.spec.dim)
    np.testing.assert_allclose(np.linalg.norm(windows, axis=2), 1.0, atol=1e-5)
    for number, cls in enumerate(COPY_REGION_EXTRACTORS):
        np.testing.assert_allclose(runtime.extractor(cls.spec.name).extract_batch(photos[:3]), windows[:, number],
                                   atol=1e-6)
    # a quarter of the picture (its top-left corner) is nearer its own window than the whole
    corner = extractor.extract_batch([crop(0.5, (0.0, 0.0))(photo) for photo in photos[:3]])
    top_left = list(WINDOWS).index("tl")
    assert ((corner * windows[:, top_left]).sum(axis=1) > (corner * whole).sum(axis=1)).all()

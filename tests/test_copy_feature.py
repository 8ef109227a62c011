"""The shipped copy descriptor on real photos: edited copies, heavy crops included, stay
nearer their source than any other photo; the window descriptors come from the same pass;
the weights file is the size, precision and calibration it claims."""

from __future__ import annotations

from pathlib import Path

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
    assert CopyDescriptor.spec.near == pytest.approx(held["copy_similarity"]["p50"], abs=0.03)
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


def test_default_features_hold_the_copy_descriptor_and_its_windows():
    from lookalike.features.copy import COPY_FEATURES
    from lookalike.settings import DEFAULT_FEATURES

    assert set(COPY_FEATURES) <= set(DEFAULT_FEATURES)


def test_beside_the_copy_descriptor_a_copy_needs_both_cnns():
    from lookalike import scoring
    from lookalike.features.registry import get_spec

    specs = [get_spec(name) for name in Settings().features]
    raw = {spec.name: np.asarray([0.5 if spec.kind == "binary" else spec.far]) for spec in specs}
    threshold = Settings().min_near_duplicate_score
    looks_alike = {**raw, "effnet_lite0": np.asarray([0.97])}  # two shoes on white, say
    scored = float(scoring.fuse(specs, looks_alike)[0])
    assert float(scoring.fuse(specs, raw)[0]) < scored < threshold
    window = {**looks_alike, "copy_lite0_region_br": np.asarray([0.95])}  # and a crop of one corner
    assert float(scoring.fuse(specs, window)[0]) >= threshold
    hashes = {**raw, **{name: np.asarray([1.0]) for name in ("ahash", "dhash", "phash", "whash")}}
    assert float(scoring.fuse(specs, hashes)[0]) < threshold  # agreeing hashes alone: next video frame


CLIPART = Path("/usr/share/openclipart/png/animals")


@pytest.fixture(scope="module")
def animals(tmp_path_factory):
    """48 openclipart animals (drawings on white: every one alike to every other), one file
    per name, and half-area corner crops of the first 6 saved as JPEG."""
    if not CLIPART.is_dir():
        pytest.skip("openclipart-png is not installed (apt install openclipart-png)")
    from lookalike.decode import load_image

    files = sorted({path.name: path for path in sorted(CLIPART.rglob("*.png"))}.values())[:48]
    gallery, queries = tmp_path_factory.mktemp("animals"), tmp_path_factory.mktemp("crops")
    for number, path in enumerate(files):
        image = load_image(path).image
        image.save(gallery / f"{number:02d}.png")
        if number < 6:
            corner = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))[number % 4]
            crop(0.71, corner)(image).save(queries / f"{number:02d}.jpg", quality=90)
    return gallery, sorted(queries.iterdir())


def test_half_area_crops_among_look_alikes_are_found_first_with_default_settings(animals, tmp_path):
    from lookalike import Collection

    gallery, queries = animals
    with Collection(settings=Settings(db=tmp_path / "animals.db")) as collection:
        collection.index([gallery])
        tiers = []
        for query in queries:
            best = collection.search(query, k=3)[0]
            assert Path(best.image.path).stem == query.stem, (query.name, Path(best.image.path).name)
            tiers.append(best.tier)
    # measured: 5 of 6 near-duplicate, one just below the threshold (0.698)
    assert tiers.count("near-duplicate") >= 4, tiers


def test_compare_reads_the_second_images_own_windows(photos, tmp_path):
    """compare's second image stands where a stored one would: a crop of its bottom-right
    corner meets that window best (not the whole picture's vector in every window)."""
    from lookalike import api

    photos[0].save(tmp_path / "whole.png")
    crop(0.71, (1.0, 1.0))(photos[0]).save(tmp_path / "corner.jpg", quality=92)
    result = api.compare(tmp_path / "corner.jpg", tmp_path / "whole.png", keypoints=False)
    windows = {name: value for name, value in result.evidence.items() if name.startswith("copy_lite0_region_")}
    assert max(windows, key=windows.__getitem__) == "copy_lite0_region_br"
    assert len(set(windows.values())) == len(windows)

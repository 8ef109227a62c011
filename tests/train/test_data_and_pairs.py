"""The pieces around the networks, which need no torch: the held-out split, training
views, pair sampling and the measurements written into a model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike.features.base import l2_normalise
from lookalike.train.augment import random_view, views_of
from lookalike.train.calibration import anchors, fit_probability, measure_invariance, probability
from lookalike.train.data import group_ids, holdout_split, load_folder
from lookalike.train.errors import NotEnoughData
from lookalike.train.pairs import TripletSampler, hard_negatives, labelled_pairs

LABELS = [f"item{i // 5}" for i in range(40)]  # 8 labels x 5 images


def test_split_by_label_holds_out_whole_labels_deterministically() -> None:
    train, test = holdout_split(LABELS, 0.25, seed=3, by="label")
    assert not {LABELS[i] for i in train} & {LABELS[i] for i in test}
    assert len(test) == 10 and sorted(np.r_[train, test].tolist()) == list(range(40))
    again = holdout_split(LABELS, 0.25, seed=3, by="label")
    assert all(np.array_equal(a, b) for a, b in zip(again, (train, test)))
    assert not np.array_equal(holdout_split(LABELS, 0.25, seed=4, by="label")[1], test)


def test_split_by_image_keeps_every_label_on_both_sides() -> None:
    train, test = holdout_split(LABELS, 0.25, seed=0, by="image")
    assert {LABELS[i] for i in train} == {LABELS[i] for i in test} == set(LABELS)
    unlabelled_train, unlabelled_test = holdout_split([None] * 10, 0.2, seed=0)
    assert len(unlabelled_test) == 2 and len(unlabelled_train) == 8
    with pytest.raises(NotEnoughData, match="hold out"):
        holdout_split([None, None], 0.2, seed=0)


def test_groups_hard_negatives_and_batches() -> None:
    groups = group_ids(["b", "a", None, "b", None])
    assert groups.tolist() == [1, 0, 4, 1, 6]  # an unlabelled image is a group of its own
    rng = np.random.default_rng(0)
    vectors = l2_normalise(np.abs(rng.normal(size=(40, 16))))
    item_groups = group_ids(LABELS)
    negatives = hard_negatives(vectors, item_groups, 3)
    similarity = vectors @ vectors.T
    for row in range(40):
        other = np.flatnonzero(item_groups != item_groups[row])
        expected = other[np.argsort(-similarity[row, other], kind="stable")[:3]]
        assert negatives[row].tolist() == expected.tolist()
    sampler = TripletSampler(item_groups, views=4, negatives=negatives, rng=rng)
    batch = sampler.batch(16)
    assert (item_groups[batch.anchors // 4] == item_groups[batch.positives // 4]).all()
    assert (item_groups[batch.anchors // 4] != item_groups[batch.negatives // 4]).all()
    assert (batch.anchors != batch.positives).all()
    assert sampler.steps_per_epoch(16) == 10  # 40 images x 4 views


def test_labelled_pairs_cover_every_positive() -> None:
    groups = group_ids(LABELS)
    first, second, same = labelled_pairs(groups, np.random.default_rng(0))
    assert same.sum() == 8 * 10  # C(5, 2) pairs per label
    assert (same == (groups[first] == groups[second])).all() and (first != second).all()
    assert (~same).sum() == 4 * same.sum()


def test_anchors_and_probability_head_are_fitted_to_pairs() -> None:
    rng = np.random.default_rng(0)
    similarities = np.r_[rng.normal(0.8, 0.05, 500), rng.normal(0.3, 0.1, 2000)].clip(0, 1)
    same = np.r_[np.ones(500, bool), np.zeros(2000, bool)]
    near, far = anchors(similarities, same)
    assert near == pytest.approx(0.8, abs=0.02) and far == pytest.approx(0.3, abs=0.02)
    head = fit_probability(similarities, same)
    assert head["scale"] > 0 and probability(head, [0.3])[0] < 0.05 and probability(head, [0.8])[0] > 0.95
    assert probability(head, [(near + far) / 2])[0] == pytest.approx(0.5, abs=0.25)
    with pytest.raises(NotEnoughData):
        anchors(similarities[:10], same[:10])


def test_invariance_is_measured_not_assumed() -> None:
    rng = np.random.default_rng(0)
    images = []
    for _ in range(4):
        pixels = rng.integers(0, 100, (24, 32, 3), dtype=np.uint8)
        pixels[:12, :16] += 150  # a bright top-left quarter
        images.append(Image.fromarray(pixels))

    def histogram(batch: list[Image.Image]) -> np.ndarray:  # blind to every turn
        return l2_normalise(np.stack([np.bincount(np.asarray(im).ravel() // 16, minlength=16) for im in batch]))

    def quarters(batch: list[Image.Image]) -> np.ndarray:  # where the bright quarter is
        small = [np.asarray(im.resize((2, 2), Image.Resampling.BOX).convert("L"), float) for im in batch]
        return l2_normalise(np.stack([pixels.ravel() ** 8 for pixels in small]))

    assert measure_invariance(histogram, images, near=0.8)[0] == "dihedral"
    kind, measured = measure_invariance(quarters, images, near=0.8)
    assert kind == "none" and measured["mirror"] < measured["needed"]


def test_views_are_seeded_edits(tmp_path: Path) -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8))
    first = random_view(image, np.random.default_rng(5))
    assert np.array_equal(np.asarray(first), np.asarray(random_view(image, np.random.default_rng(5))))
    views = views_of([image], 3, np.random.default_rng(0))[0]
    assert views[0] is image and len(views) == 4 and all(view.mode == "RGB" for view in views)
    image.save(tmp_path / "a-1.png")
    (tmp_path / "broken-1.png").write_bytes(b"not an image")
    loaded = load_folder(tmp_path, "prefix")
    assert loaded.labels == ["a"] and [Path(p).name for p, _ in loaded.skipped] == ["broken-1.png"]

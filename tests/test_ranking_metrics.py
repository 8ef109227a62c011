"""Metrics checked against values worked out by hand."""

from __future__ import annotations

import pytest

from lookalike.ranking_metrics import average_precision, precision_at, ranking_scores, recall_at, threshold_curve


def test_average_precision_by_hand() -> None:
    # relevant at ranks 1 and 3 of 2 relevant: (1/1 + 2/3) / 2
    assert average_precision([True, False, True, False], 2) == pytest.approx((1 + 2 / 3) / 2)
    # a relevant item never retrieved halves AP
    assert average_precision([True, False], 2) == pytest.approx(0.5)
    assert average_precision([False, False], 0) == 0.0
    # AP@k normalises by min(k, relevant)
    assert average_precision([False, True, True], 5, at=2) == pytest.approx((1 / 2) / 2)


def test_precision_and_recall_at_k() -> None:
    ranked = [True, False, True, True]
    assert precision_at(ranked, 2) == 0.5 and precision_at(ranked, 4) == 0.75
    assert recall_at(ranked, 6, 4) == 0.5


def test_ranking_scores_average_over_queries() -> None:
    scores = ranking_scores([[True, False], [False, True]], [1, 1], ks=(1, 2))
    assert scores.map == pytest.approx((1 + 0.5) / 2)
    assert scores.precision_at == {1: 0.5, 2: 0.5}
    assert scores.recall_at == {1: 0.5, 2: 1.0}
    with pytest.raises(ValueError):
        ranking_scores([], [])


def test_threshold_curve_and_best_f1() -> None:
    curve = threshold_curve([0.9, 0.8, 0.8, 0.4, 0.3], [True, True, False, True, False])
    assert curve.thresholds.tolist() == [0.9, 0.8, 0.4, 0.3]
    assert curve.precision.tolist() == pytest.approx([1.0, 2 / 3, 3 / 4, 3 / 5])
    assert curve.recall.tolist() == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0])
    threshold, precision, recall, f1 = curve.best_f1()
    assert (threshold, recall) == (0.4, 1.0) and f1 == pytest.approx(2 * 0.75 / 1.75)
    assert curve.threshold_for_precision(0.75) == pytest.approx(0.35)  # halfway to the next score
    assert curve.threshold_for_precision(0.6) == 0.3  # the lowest score: nothing below it
    assert curve.threshold_for_precision(1.01) is None


def test_evaluate_and_calibrate_on_a_labelled_folder(tmp_path, gallery) -> None:
    """The gallery's labels say which files show the same picture (astronaut-caption is an
    astronaut, coffee-grayscale a coffee...)."""
    from tests.conftest import HASH_FEATURES

    from lookalike import Collection, Settings

    with Collection(settings=Settings(db=tmp_path / "shop.db", features=HASH_FEATURES)) as shop:
        report = shop.evaluate(gallery, "prefix")
        assert report.images == len(list(gallery.iterdir())) - 1  # a byte copy is one image
        assert report.ranking.queries == 6  # 3 labels with 2 images each
        assert report.ranking.map == 1.0 and report.ranking.precision_at[1] == 1.0
        threshold, precision, recall, f1 = report.curve.best_f1()
        assert f1 == 1.0 and threshold > 0.72
        assert report.at_threshold(shop.settings.min_same_score) == (1.0, 1.0)
        assert [e.query.label for e in report.examples][:1] and all(e.results for e in report.examples)
        chosen = shop.calibrate(report, target_precision=0.99)
        assert 0.72 < chosen["min_same_score"] <= threshold
    with Collection(settings=Settings(db=tmp_path / "shop.db")) as reopened:
        assert reopened.settings.min_same_score == chosen["min_same_score"]
        assert reopened.info().thresholds["near_duplicate"] == chosen["min_near_duplicate_score"]

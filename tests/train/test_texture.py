"""The texture re-ranker: fitted once per collection on its labels, stored as plain
numbers, applied at query time with numpy; it fixes rankings the first stage gets wrong
on look-alike textures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lookalike import Collection, LookalikeError, Settings
from lookalike.rerank import reranker_names
from lookalike.rerank.texture import META_KEY, TextureClassifier, load_classifier, rescore_in_band
from lookalike.train.texture import TextureOptions, fit_classifier, train_texture

# No embedding: copy detection by hashes alone cannot tell patches of one texture from
# another's, which is the look-alike case the stage is for.
NO_EMBEDDING = ("ahash", "dhash", "phash", "whash", "color", "lbp")


@pytest.fixture()
def textures(tmp_path: Path, texture_folder: Path) -> Collection:
    with Collection(settings=Settings(db=tmp_path / "t.db", features=NO_EMBEDDING)) as collection:
        collection.index([texture_folder], label_from="folder")
        yield collection


def test_classifier_fits_and_round_trips_as_plain_numbers() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 6))
    vectors = np.concatenate([centre + 0.3 * rng.normal(size=(10, 6)) for centre in centres])
    labels = [name for name in "abc" for _ in range(10)]
    classifier = fit_classifier(vectors, labels, "lbp", "1", min_score=0.3, weight=0.25)
    assert (np.array(classifier.classes)[classifier.probabilities(vectors).argmax(axis=1)] == labels).mean() == 1.0
    text = classifier.to_json()
    assert isinstance(json.loads(text)["weights"][0][0], float)
    again = TextureClassifier.from_json(text)
    np.testing.assert_allclose(again.probabilities(vectors), classifier.probabilities(vectors), atol=1e-5)
    same = classifier.same_probability(vectors[:1], ["a", "b", None], vectors[[0, 10, 20]])
    assert same[0] > 0.9 and same[1] < 0.1 and same[2] < 0.1


def test_rescoring_stays_in_the_band() -> None:
    scores = np.array([0.95, 0.9, 0.5, 0.2])
    moved = rescore_in_band(scores, np.array([0.0, 1.0, 1.0, 1.0]), low=0.3, weight=0.5)
    assert moved[1] > moved[0] and moved[3] == 0.2 and (moved[:3] >= 0.3).all() and (moved <= 1).all()
    assert rescore_in_band(scores, np.ones(4), low=0.3, weight=0.0).tolist() == pytest.approx(scores.tolist())


def test_texture_stage_improves_held_out_ranking_and_is_stored(textures: Collection) -> None:
    result = train_texture(textures.store, TextureOptions(seed=0))
    assert result.after["mAP"] > result.before["mAP"] + 0.2 and result.accuracy >= 0.8
    assert result.after["precision@1"] >= result.before["precision@1"]
    assert load_classifier(textures.store).classes == ("brick", "grass", "gravel")
    assert META_KEY in textures.store.meta()


def test_search_rerank_texture_puts_the_same_texture_first(textures: Collection, texture_folder: Path) -> None:
    assert "texture" in reranker_names()
    query = texture_folder / "gravel" / "gravel-04.png"
    with pytest.raises(LookalikeError, match="train texture"):
        textures.search(query, k=5, rerank=["texture"])
    train_texture(textures.store)

    def precision(matches: list) -> float:
        others = [m for m in matches if m.tier != "exact"]
        return sum(m.image.label == "gravel" for m in others) / len(others)

    plain = textures.search(query, k=8)
    reranked = textures.search(query, k=8, rerank=["texture"])
    assert precision(reranked) > precision(plain) and precision(reranked) == 1.0
    assert reranked[0].tier == "exact" and "texture_same" in reranked[1].evidence
    assert [m.score for m in reranked] == sorted((m.score for m in reranked), reverse=True)


def test_needs_labels_and_lbp(tmp_path: Path, texture_folder: Path) -> None:
    with Collection(settings=Settings(db=tmp_path / "u.db", features=NO_EMBEDDING)) as unlabelled:
        unlabelled.index([texture_folder / "brick"])
        with pytest.raises(LookalikeError, match="at least two"):
            train_texture(unlabelled.store)
    with Collection(settings=Settings(db=tmp_path / "h.db", features=("phash",))) as hashes_only:
        hashes_only.index([texture_folder], label_from="folder")
        with pytest.raises(LookalikeError, match="no lbp vectors"):
            train_texture(hashes_only.store)

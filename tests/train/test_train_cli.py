"""`lookalike train ...` through click: tables, JSON, model files, the texture stage,
and the one-line error when the training extra is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lookalike.cli import main
from lookalike.features.learned import read_model_file

from .test_texture import NO_EMBEDDING


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.output


def test_train_siamese_prints_before_after_and_writes_a_model(tmp_path: Path, labelled_folder: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "photos.lookalike"
    output = run("train", "siamese", str(labelled_folder), "--label-from", "folder", "--epochs", "2",
                 "--views", "1", "--loss", "triplet", "--holdout", "0.25", "--out", str(out), "--quiet")
    assert "pretrained (effnet_lite0)" in output and "siamese" in output and "mAP" in output
    assert "split by label" in output and f"wrote {out}" in output and "--model" in output
    config = read_model_file(out).config
    assert config["trained"]["options"]["loss"] == "triplet" and config["trained"]["labels"] is True
    index = run("--db", str(tmp_path / "s.db"), "index", str(labelled_folder / "coffee"), "--model", str(out))
    assert "indexed 4" in index


def test_train_autoencoder_json(tmp_path: Path, photo_folder: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "ae.lookalike"
    output = run("train", "autoencoder", str(photo_folder), "--out", str(out), "--epochs", "1", "--side", "32",
                 "--dim", "8", "--views", "0", "--json", "--quiet")
    data = json.loads(output)
    assert data["kind"] == "autoencoder" and data["split_by"] == "image" and data["heldout_images"] == 2
    assert set(data["before"]) == set(data["after"]) and Path(data["path"]) == out
    run("train", "autoencoder", str(photo_folder), "--side", "30", expect=2)


def test_train_texture_stores_the_stage_for_search(tmp_path: Path, texture_folder: Path) -> None:
    from lookalike import Collection, Settings

    db = tmp_path / "t.db"
    with Collection(settings=Settings(db=db, features=NO_EMBEDDING)) as collection:
        collection.index([texture_folder], label_from="folder")
    assert "train texture" in run("--db", str(db), "search", str(texture_folder / "grass" / "grass-01.png"),
                                  "--rerank", "texture", expect=1)
    dry = json.loads(run("--db", str(db), "train", "texture", "--dry-run", "--json"))
    assert dry["stored"] is False and dry["after"]["mAP"] > dry["before"]["mAP"]
    output = run("--db", str(db), "train", "texture", "--weight", "0.3")
    assert "first stage" in output and "+ texture" in output and f"stored in {db}" in output
    found = json.loads(run("--db", str(db), "search", str(texture_folder / "grass" / "grass-01.png"), "-k", "4",
                           "--rerank", "texture", "--json"))
    assert [match["label"] for match in found] == ["grass"] * 4
    assert "no such store" in run("--db", str(tmp_path / "none.db"), "train", "texture", expect=1)


def test_missing_torch_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, photo_folder: Path) -> None:
    for name in [name for name in sys.modules if name.startswith("lookalike.train.") and name != "lookalike.train.cli"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    result = CliRunner().invoke(main, ["train", "siamese", str(photo_folder)])
    assert result.exit_code == 1 and "pip install 'lookalike[train]'" in result.output

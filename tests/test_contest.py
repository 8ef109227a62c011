"""Contested copies (`rerank.keypoints.contest`, `alignment`): frames of one fixed-camera
video all pass for an edited copy's source (the hashes and the embeddings see one scene);
the default search aligns the contenders on the query and keeps the frame that reproduces
it, the others become same-object. Real frames of opencv-doc's vtest.avi."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

cv2 = pytest.importorskip("cv2", reason="the contest stage needs opencv-python-headless")

from lookalike import Collection, Settings, scoring  # noqa: E402
from lookalike.demo import sample_image  # noqa: E402
from lookalike.edits import border, crop, jpeg  # noqa: E402
from lookalike.rerank.keypoints import extract_features, pixel_agreement, verify  # noqa: E402

from .debian_data import debian_file  # noqa: E402

VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
FRAMES = (40, 48, 56, 64, 72)  # every 8th frame: people walk a few steps between two
SOURCE = 56


def read_frames(wanted: tuple[int, ...]) -> dict[int, Image.Image]:
    capture = cv2.VideoCapture(str(debian_file(VIDEO, "opencv-doc")))
    frames, index = {}, 0
    try:
        while index <= max(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                frames[index] = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        capture.release()
    assert sorted(frames) == sorted(wanted)
    return frames


@pytest.fixture(scope="module")
def frames() -> dict[int, Image.Image]:
    return read_frames(FRAMES)


@pytest.fixture(scope="module")
def video_collection(tmp_path_factory: pytest.TempPathFactory, frames: dict[int, Image.Image]) -> Collection:
    folder = tmp_path_factory.mktemp("frames")
    for index, frame in frames.items():
        frame.save(folder / f"frame-{index:04d}.png")
    for name in ("astronaut", "coffee", "chelsea"):
        sample_image(name).convert("RGB").save(folder / f"{name}.png")
    collection = Collection(tmp_path_factory.mktemp("contest") / "frames.db")
    collection.index([folder])
    yield collection
    collection.close()


def test_an_aligned_copy_reproduces_the_query_and_the_next_frame_does_not(frames):
    query = jpeg(40)(crop(0.8)(frames[SOURCE]))
    shares = {}
    for index in (SOURCE, SOURCE + 8):
        evidence = verify(extract_features(query), extract_features(frames[index]))
        assert evidence.kind == "near-duplicate"  # keypoints alone cannot tell the two apart
        found = pixel_agreement(query, frames[index], evidence.homography, frames[index].size)
        assert found is not None and found.blocks > 50
        shares[index] = found.share
    assert shares[SOURCE] > 0.9
    assert scoring.outvoted(shares[SOURCE + 8], shares[SOURCE])


def test_agreement_of_unrelated_content_is_low(frames):
    """The same map with another picture behind it: nothing is reproduced."""
    photo = sample_image("astronaut").convert("RGB").resize(frames[SOURCE].size)
    identity = np.eye(3).tolist()
    same = pixel_agreement(frames[SOURCE], frames[SOURCE], identity, frames[SOURCE].size)
    other = pixel_agreement(frames[SOURCE], photo, identity, photo.size)
    assert same is not None and same.share == pytest.approx(1.0)
    assert other is not None and other.share < 0.2


@pytest.mark.parametrize("edit", [crop(0.8), border(0.1, "black"), jpeg(20)], ids=["crop80", "border", "jpeg20"])
def test_default_search_names_the_source_frame_among_its_neighbours(video_collection, frames, tmp_path, edit):
    query = tmp_path / "query.jpg"
    edit(frames[SOURCE]).save(query, quality=90)
    matches = video_collection.search(query, k=5)
    assert Path(matches[0].image.path).name == f"frame-{SOURCE:04d}.png"
    assert matches[0].tier == "near-duplicate"
    for match in matches[1:]:
        assert match.tier != "near-duplicate", (match.image.path, match.score, match.evidence)


def test_contest_stage_is_on_by_default_and_costs_nothing_without_a_contest(video_collection, tmp_path):
    assert "contest" in Settings().rerank
    query = tmp_path / "coffee.jpg"
    jpeg(60)(sample_image("coffee").convert("RGB")).save(query)
    matches = video_collection.search(query, k=3)
    assert Path(matches[0].image.path).name == "coffee.png"
    assert not any("keypoints" in (match.explanation or {}) for match in matches)  # nothing was verified


def test_without_the_contest_the_other_frames_pass_for_copies(video_collection, frames, tmp_path):
    """What the stage is for: the first stage alone calls a neighbouring frame a copy."""
    query = tmp_path / "query.jpg"
    crop(0.8)(frames[SOURCE]).save(query, quality=90)
    plain = video_collection.search(query, k=5, rerank=[])
    assert sum(match.tier == "near-duplicate" for match in plain) >= 2


def test_who_contests_the_best_copy():
    t = 0.72
    # a copy and a rival within range (or called a copy too); the third is neither
    assert scoring.contenders([0.95, 0.9, 0.6], ["near-duplicate"] * 2 + ["similar"], [0.95, 0.9, 0.6], t) == [0, 1]
    assert scoring.contenders([0.99, 0.75, 0.5], ["near-duplicate"] * 2 + ["similar"], [0.99, 0.75, 0.5], t) == [0, 1]
    # one clear copy, or none: nothing to verify
    assert scoring.contenders([0.95, 0.5], ["near-duplicate", "similar"], [0.95, 0.5], t) == []
    assert scoring.contenders([0.5, 0.48], ["similar"] * 2, [0.5, 0.48], t) == []
    assert scoring.contenders([1.0, 0.9], ["exact", "near-duplicate"], [1.0, 0.9], t) == []
    # look-alikes everywhere: the background kept every frame below a copy's score, the
    # fused scores before it say they all contest (one alone is worth verifying too)
    assert scoring.contenders([0.45, 0.44, 0.3], ["similar"] * 3, [0.88, 0.87, 0.6], t) == [0, 1]
    assert scoring.contenders([0.45, 0.3], ["similar"] * 2, [0.88, 0.6], t) == [0]
    assert len(scoring.contenders([0.9] * 20, ["near-duplicate"] * 20, [0.9] * 20, t)) == scoring.CONTEST_MAX


def test_a_contest_reaches_past_its_first_contenders(tmp_path):
    """Turned, every one of 20 frames scores like a copy (more than one round of contenders):
    the outvoted make room, the next ones are contested in turn, and only the source stays a
    copy among the results."""
    many = read_frames(tuple(range(0, 160, 8)))
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in many.items():
        frame.save(folder / f"frame-{index:04d}.png")
    query = tmp_path / "query.jpg"
    many[80].transpose(Image.Transpose.ROTATE_90).save(query, quality=85)
    with Collection(tmp_path / "many.db") as collection:
        collection.index([folder])
        plain = collection.search(query, k=10, rerank=[])
        matches = collection.search(query, k=10)
    assert sum(match.tier == "near-duplicate" for match in plain) == 10  # all ten results
    assert Path(matches[0].image.path).name == "frame-0080.png" and matches[0].tier == "near-duplicate"
    assert [match.tier for match in matches[1:]].count("near-duplicate") == 0, [(m.image.path, m.score) for m in matches]

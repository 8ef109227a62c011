"""Keypoint verification (`lookalike.rerank.keypoints`) and the `keypoints` re-ranking stage, on real
photos: heavy crops and pastes of the demo gallery, real second views from OpenCV's sample
data (Debian/Ubuntu package opencv-doc), unrelated photos, determinism."""

from __future__ import annotations

import itertools
import random
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("cv2", reason="keypoint verification needs opencv-python-headless")

from lookalike import Collection, Settings  # noqa: E402
from lookalike.rerank import keypoints as V  # noqa: E402
from lookalike.demo import sample_image  # noqa: E402
from lookalike.edits import crop  # noqa: E402
from lookalike.features.regions import WINDOWS  # noqa: E402
from lookalike.query import load_query  # noqa: E402
from lookalike.query_parts import PART_EVIDENCE, part_candidates, part_vectors, with_part_evidence  # noqa: E402
from lookalike.rerank import keypoints as K  # noqa: E402
from lookalike import scoring  # noqa: E402

from .debian_data import debian_file  # noqa: E402

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
# (query: a second photograph, stored: the first), each a real change of viewpoint; the
# rubber whale's two frames of a video are so close that the hashes call them one picture.
VIEW_PAIRS = [("graf3.png", "graf1.png"), ("box_in_scene.png", "box.png"), ("leuvenB.jpg", "leuvenA.jpg"),
              ("rubberwhale2.png", "rubberwhale1.png")]
KEYPOINTS = ["keypoints"]
CROP_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket")
UNRELATED = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "hubble_deep_field", "retina",
             "immunohistochemistry", "moon", "page", "horse", "brick", "grass", "gravel", "text", "motorcycle_left")


def opencv_sample(name: str) -> Path:
    return debian_file(OPENCV_DATA / name, "opencv-doc")


@pytest.fixture(scope="module")
def views_collection(tmp_path_factory: pytest.TempPathFactory, gallery: Path) -> Collection:
    """The demo gallery plus the stored view of each OpenCV viewpoint pair, every default feature."""
    if not OPENCV_DATA.is_dir():
        pytest.skip(f"OpenCV's sample photos are not installed ({OPENCV_DATA} missing: apt install opencv-doc)")
    folder = tmp_path_factory.mktemp("views-gallery")
    for path in gallery.iterdir():
        shutil.copyfile(path, folder / path.name)
    for _, stored in VIEW_PAIRS:
        shutil.copyfile(opencv_sample(stored), folder / stored)
    collection = Collection(tmp_path_factory.mktemp("views") / "views.db")
    collection.index([folder], label_from="prefix")
    yield collection
    collection.close()


def save_query(image: Image.Image, folder: Path, name: str) -> Path:
    path = folder / f"{name}.jpg"
    image.save(path, "JPEG", quality=95)
    return path


# --- (1) heavy crops of real photos ------------------------------------------------------------

CROPS = {
    "half-area-off-centre": crop(0.5**0.5, (0.9, 0.15)),
    "30%-area": None,  # placed at a seeded random position per photo
}


@pytest.mark.parametrize("kind", list(CROPS))
@pytest.mark.parametrize("photo", CROP_PHOTOS)
def test_heavy_crop_found_at_rank_1_as_near_duplicate(
    full_collection: Collection, tmp_path: Path, photo: str, kind: str
) -> None:
    cut = CROPS[kind] or crop(0.3**0.5, (random.Random(photo).random(), random.Random(photo[::-1]).random()))
    query = save_query(cut(sample_image(photo)), tmp_path, f"{photo}-{kind}")
    # a half-area crop can be a copy the first stage is already sure of: the hashes do not
    # vouch for it, so it is verified all the same (crop or other view: keypoints tell)
    best, *_ = full_collection.search(query, k=5, rerank=KEYPOINTS)
    assert best.image.label == photo, (best.image.path, best.score, best.tier)
    assert best.tier == "near-duplicate"
    assert best.evidence[K.EVIDENCE_INLIERS] >= scoring.NEAR_DUPLICATE_MIN_INLIERS
    assert best.score >= scoring.near_duplicate_band(Settings().min_near_duplicate_score)[0]
    # the region the crop came from, in the stored image
    assert best.evidence[K.EVIDENCE_COVERAGE] < 0.75 and best.evidence[K.EVIDENCE_QUERY_COVERAGE] > 0.1
    assert "keypoints agree" in (K.explain(best) or "")


def test_crop_region_is_located(full_collection: Collection, tmp_path: Path) -> None:
    """The bottom-right quarter of the cat: the verified region is that quarter."""
    query = save_query(crop(0.5, (1.0, 1.0))(sample_image("chelsea")), tmp_path, "chelsea-quarter")
    best, *_ = full_collection.search(query, k=3, rerank=KEYPOINTS)
    assert best.image.label == "chelsea" and best.tier == "near-duplicate"
    left, top, right, bottom = (best.evidence[name] for name in K.EVIDENCE_REGION)
    assert left >= 0.45 and top >= 0.45 and right > 0.9 and bottom > 0.9, (left, top, right, bottom)


def test_mirrored_crop_is_verified_against_the_mirrored_query(full_collection: Collection, tmp_path: Path) -> None:
    mirrored = crop(0.75, (0.2, 0.4))(sample_image("coffee")).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    best, *_ = full_collection.search(save_query(mirrored, tmp_path, "coffee-mirrored-crop"), k=3, rerank=KEYPOINTS)
    assert best.image.label == "coffee" and best.tier == "near-duplicate"
    assert best.evidence[K.EVIDENCE_INLIERS] >= 50


# --- (2) the same object from another viewpoint -------------------------------------------------

@pytest.mark.parametrize(("query", "stored"), VIEW_PAIRS)
def test_other_view_found_at_rank_1_as_same_object(views_collection: Collection, query: str, stored: str) -> None:
    matches = views_collection.search(opencv_sample(query), k=5, rerank=KEYPOINTS)
    best = matches[0]
    assert Path(best.image.path).name == stored, [(Path(m.image.path).name, m.tier, round(m.score, 3)) for m in matches]
    assert best.tier == "same-object"
    assert best.evidence[K.EVIDENCE_INLIERS] >= scoring.SAME_OBJECT_MIN_INLIERS
    assert all(m.tier != "same-object" for m in matches[1:])


def test_next_frame_that_the_hashes_call_a_copy_is_told_apart_by_its_keypoints(views_collection: Collection) -> None:
    """The first stage is sure of the next frame of a video and the hashes call it the same
    picture; verifying it all the same finds the motion (no single map fits): same object."""
    from lookalike.scoring import NEAR_LEVEL, hash_evidence

    query = opencv_sample("rubberwhale2.png")
    first_stage = views_collection.search(query, k=1)[0]
    assert first_stage.score >= scoring.KEYPOINT_CONFIDENT and first_stage.tier == "near-duplicate"
    assert float(hash_evidence(views_collection.store.specs, first_stage.evidence)) >= NEAR_LEVEL
    verified = views_collection.search(query, k=1, rerank=KEYPOINTS)[0]
    assert verified.image.id == first_stage.image.id and verified.tier == "same-object"
    assert verified.explanation["keypoints"]["kind"] == "same-object"


def test_viewpoint_pair_verification_explains_itself() -> None:
    first, second = (Image.open(opencv_sample(name)) for name in ("graf1.png", "graf3.png"))
    result = V.verify_images(second, first)
    assert result.kind == "same-object"
    assert result.inliers >= 100 and result.perspective > 5.0
    assert "keypoints agree under one homography" in result.reason and "another view" in result.reason
    data = result.to_dict(max_pairs=10)
    assert data["kind"] == "same-object" and len(data["pairs"]) == 10
    (qx, qy), (cx, cy) = data["pairs"][0]
    assert 0 <= qx < second.width and 0 <= qy < second.height and 0 <= cx < first.width and 0 <= cy < first.height


# --- (3) unrelated photos ----------------------------------------------------------------------

def test_unrelated_photos_are_not_verified() -> None:
    features = {name: V.extract_features(sample_image(name)) for name in UNRELATED}
    results = {(a, b): V.verify(features[a], features[b]) for a, b in itertools.permutations(UNRELATED, 2)}
    verified = {pair: (r.kind, r.inliers) for pair, r in results.items() if r.kind is not None}
    assert not verified
    assert max(r.inliers for r in results.values()) < scoring.NEAR_DUPLICATE_MIN_INLIERS


def test_unrelated_opencv_photos_are_not_verified() -> None:
    names = ("graf1.png", "box_in_scene.png", "leuvenA.jpg", "aloeL.jpg", "messi5.jpg", "home.jpg", "fruits.jpg",
             "baboon.jpg", "building.jpg", "starry_night.jpg")
    features = {name: V.extract_features(Image.open(opencv_sample(name))) for name in names}
    kinds = {(a, b): V.verify(features[a], features[b]).kind for a, b in itertools.combinations(names, 2)}
    assert set(kinds.values()) == {None}, {pair: kind for pair, kind in kinds.items() if kind}


# --- (4) a picture pasted into another ---------------------------------------------------------

def test_picture_pasted_into_another_is_found_as_near_duplicate(full_collection: Collection, tmp_path: Path) -> None:
    """A third of the camera man pasted onto a photo that is not in the collection."""
    background = sample_image("clock")  # scikit-image's photo of a wall clock; not in the gallery
    background = background.resize((background.width * 2, background.height * 2), Image.Resampling.BICUBIC)
    piece = crop(0.58, (0.5, 0.4))(sample_image("camera"))
    piece = piece.resize((round(background.width * 0.4), round(background.width * 0.4 * piece.height / piece.width)))
    composite = background.copy()
    composite.paste(piece, (background.width - piece.width - 20, 30))
    query = tmp_path / "camera-on-clock.png"
    composite.save(query)
    matches = full_collection.search(query, k=3, rerank=KEYPOINTS)
    best = matches[0]
    assert best.image.label == "camera" and best.tier == "near-duplicate", [(m.image.path, m.tier) for m in matches]
    assert best.evidence[K.EVIDENCE_QUERY_COVERAGE] < 0.3  # only part of the query is the camera man
    left, top, right, bottom = (best.evidence[name] for name in K.EVIDENCE_REGION)
    assert 0.1 < left < right < 0.9 and 0.1 < top < bottom < 0.9  # the middle of the stored photo


def camera_pasted_on_clock(folder: Path, width_share: float) -> Path:
    background = sample_image("clock")  # scikit-image's photo of a wall clock; not in the gallery
    background = background.resize((background.width * 2, background.height * 2), Image.Resampling.BICUBIC)
    piece = crop(0.58, (0.5, 0.4))(sample_image("camera"))
    width = round(background.width * width_share)
    piece = piece.resize((width, round(width * piece.height / piece.width)))
    composite = background.copy()
    composite.paste(piece, (background.width - piece.width - 20, 30))
    path = folder / f"camera-on-clock-{width_share}.png"
    composite.save(path)
    return path


@pytest.fixture(scope="module")
def collection_without_copy_descriptor(tmp_path_factory: pytest.TempPathFactory, gallery: Path) -> Collection:
    """The gallery with the default features before the copy descriptor, whose windows find
    a paste in the first stage already (which leaves the query's windows nothing to show)."""
    from lookalike import Settings

    features = tuple(name for name in Settings().features if not name.startswith("copy_lite0"))
    collection = Collection(settings=Settings(db=tmp_path_factory.mktemp("no-copy") / "gallery.db", features=features))
    collection.index([gallery], label_from="prefix")
    yield collection
    collection.close()


def test_windows_of_the_query_bring_a_pasted_picture_to_verification(
    collection_without_copy_descriptor: Collection, tmp_path: Path
) -> None:
    """A small paste ranks low on the whole query's features; a window of the query finds it
    and the keypoint stage verifies it although only the first-stage best is in its top."""
    full_collection = collection_without_copy_descriptor
    # a quarter of the width: at 0.3 the first stage ranks the paste first (search.TURN_MARGIN)
    query = camera_pasted_on_clock(tmp_path, 0.25)
    store = full_collection.store
    loaded = load_query(query, store.settings, K.KeypointReranker.query_min_side)
    vectors = part_vectors(loaded, store.runtime)
    assert vectors.shape == (len(WINDOWS), 1280)
    camera = next(i for i, record in store.images(store.image_ids()).items() if record.label == "camera")
    assert camera in part_candidates(store, vectors)

    first_stage = full_collection.search(query, k=100)
    assert first_stage[0].image.label != "camera"  # else this test would prove nothing
    matches = with_part_evidence(store, vectors, first_stage)
    assert max(matches, key=lambda m: m.evidence[PART_EVIDENCE]).image.label == "camera"

    only_the_top = K.KeypointReranker(top_n=1, floor=1.0, part_candidates=0)
    assert only_the_top.rerank(store, loaded, matches)[0].image.label != "camera"
    with_parts = K.KeypointReranker(top_n=1, floor=1.0)
    assert with_parts.wants_parts(first_stage)
    best = with_parts.rerank(store, loaded, matches)[0]
    assert best.image.label == "camera" and best.tier == "near-duplicate"
    assert best.evidence[K.EVIDENCE_QUERY_COVERAGE] < 0.2


def test_a_sure_copy_asks_for_no_windows(full_collection: Collection, queries: Path) -> None:
    stage = K.KeypointReranker()
    assert not stage.wants_parts(full_collection.search(queries / "astronaut-rot90.jpg", k=3))


def test_a_sure_copy_alone_is_verified(full_collection: Collection, queries: Path) -> None:
    """The first stage is sure of a recompressed copy: the keypoint stage verifies that copy
    (a copy, not another view) and no other candidate but those contesting its place: the
    gallery's grey copy of the same photo, also called a copy, is verified and, reproducing
    the query as well as the original does (`scoring.outvoted`), stays a copy."""
    query = queries / "coffee-jpeg15.jpg"
    first_stage = full_collection.search(query, k=3)
    assert first_stage[0].score >= scoring.KEYPOINT_CONFIDENT and first_stage[0].image.label == "coffee"
    verified = full_collection.search(query, k=3, rerank=KEYPOINTS)
    assert [m.image.id for m in verified] == [m.image.id for m in first_stage]
    assert verified[0].tier == "near-duplicate" and verified[0].explanation["keypoints"]["kind"] == "near-duplicate"
    contested = K.contest_of(first_stage, full_collection.settings.min_near_duplicate_score)
    assert [Path(first_stage[i].image.path).name for i in contested] == ["coffee.png", "coffee-grayscale.jpg"]
    assert verified[1].tier == "near-duplicate" and verified[1].evidence["pixel_agreement"] > 0.9
    assert all("keypoints" not in (m.explanation or {}) for i, m in enumerate(verified) if i not in contested)


# --- (5) determinism, cache, robustness --------------------------------------------------------

def test_search_with_keypoints_is_deterministic(
    full_collection: Collection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = save_query(crop(0.55, (0.1, 0.8))(sample_image("astronaut")), tmp_path, "astronaut-crop")

    def run() -> list[tuple[str, float, str, dict[str, float]]]:
        V.feature_cache(full_collection.store.runtime).clear()
        return [(m.image.path, m.score, m.tier, m.evidence) for m in full_collection.search(query, k=8, rerank=KEYPOINTS)]

    monkeypatch.setenv("LOOKALIKE_CACHE_DIR", str(tmp_path / "cache-1"))
    first = run()
    monkeypatch.setenv("LOOKALIKE_CACHE_DIR", str(tmp_path / "cache-2"))
    assert run() == first
    assert run() == first  # now from the cache files
    image, other = sample_image("chelsea"), crop(0.6, (0.3, 0.3))(sample_image("chelsea"))
    results = [asdict(V.verify(V.extract_features(other), V.extract_features(image))) for _ in range(3)]
    assert results[0] == results[1] == results[2]


def test_features_survive_the_cache_files(tmp_path: Path) -> None:
    features = V.extract_features(sample_image("coins"))
    assert len(features) > 100 and features.points.max(axis=0)[0] < features.width
    again = V.LocalFeatures.from_bytes(features.to_bytes())
    assert (again.points == features.points).all() and (again.descriptors == features.descriptors).all()
    key = V.feature_key("ab" * 32)
    V.FeatureCache(directory=tmp_path).put(key, features, persistent=True)
    reread = V.FeatureCache(directory=tmp_path).get(key, persistent=True)
    assert reread is not None and (reread.descriptors == features.descriptors).all()
    (tmp_path / f"{key}.kp").write_bytes(b"LKKP{damaged")
    assert V.FeatureCache(directory=tmp_path).get(key, persistent=True) is None


def test_candidate_whose_file_is_gone_keeps_its_first_stage_result(
    gallery: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOKALIKE_CACHE_DIR", str(tmp_path / "cache"))  # nothing described before
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee.png", "chelsea.png", "rocket.png"):
        shutil.copyfile(gallery / name, folder / name)
    settings = Settings(db=tmp_path / "gone.db", features=("ahash", "dhash", "phash", "whash", "color", "lbp"))
    query = save_query(crop(0.8)(sample_image("coffee")), tmp_path, "coffee-crop")
    with Collection(settings=settings) as collection:
        collection.index([folder], label_from="prefix")
        before = {m.image.label: m for m in collection.search(query, k=3)}
        (folder / "coffee.png").unlink()
        after = {m.image.label: m for m in collection.search(query, k=3, rerank=KEYPOINTS)}
    assert after["coffee"].score == before["coffee"].score and after["coffee"].tier == before["coffee"].tier
    assert K.EVIDENCE_INLIERS not in after["coffee"].evidence
    assert all(m.tier != "near-duplicate" or m.image.label == "coffee" for m in after.values())


# --- (6) compare, search --explain, indexing ------------------------------------------------------

def test_compare_says_same_object_for_another_view_with_its_reason(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lookalike.api import compare
    from lookalike.cli import main

    result = compare(opencv_sample("box_in_scene.png"), opencv_sample("box.png"))
    assert (result.verdict, result.tier) == ("same-object", "same-object")
    assert result.score >= scoring.same_object_band(Settings().min_near_duplicate_score)[0]
    found = result.explanation["keypoints"]
    assert found["kind"] == "same-object" and found["inliers"] >= scoring.SAME_OBJECT_MIN_INLIERS
    assert "another viewpoint" in found["reason"] and len(found["pairs"]) <= K.MAX_PAIRS_SHOWN
    output = CliRunner().invoke(main, ["compare", str(opencv_sample("graf3.png")), str(opencv_sample("graf1.png"))])
    assert output.exit_code == 3, output.output
    assert output.output.startswith("same object (same-object)") and "another viewpoint" in output.output


def test_compare_verifies_a_heavy_crop_as_the_same_picture(tmp_path: Path) -> None:
    from lookalike.api import compare

    photo = sample_image("coffee")
    original = tmp_path / "coffee.png"
    photo.save(original)
    query = save_query(crop(0.3**0.5, (0.8, 0.2))(photo), tmp_path, "coffee-30pct")
    without = compare(query, original, keypoints=False)
    result = compare(query, original)
    assert result.verdict == "same" and result.tier == "near-duplicate"
    assert result.score >= max(without.score, scoring.near_duplicate_band(Settings().min_near_duplicate_score)[0])
    assert "keypoints agree under one similarity map" in result.explanation["keypoints"]["reason"]
    unrelated = compare(query, opencv_sample("graf1.png"))
    assert unrelated.verdict == "different" and unrelated.explanation["keypoints"]["kind"] is None


def test_search_explain_and_json_carry_the_keypoint_evidence(
    gallery: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """index --keypoints describes new images into the cache; search --explain prints the
    reason, region and verified keypoints; --json carries the explanation; removing an image
    deletes its cache files."""
    import json

    from click.testing import CliRunner

    from lookalike.cli import main

    monkeypatch.setenv("LOOKALIKE_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee.png", "chelsea.png", "rocket.png", "moon.png"):
        shutil.copyfile(gallery / name, folder / name)
    db = str(tmp_path / "explain.db")
    runner = CliRunner()
    indexed = runner.invoke(main, ["--db", db, "index", str(folder), "--keypoints"])
    assert indexed.exit_code == 0, indexed.output
    assert len(list((tmp_path / "cache").rglob("*.kp"))) == 4
    query = save_query(crop(0.5, (0.9, 0.1))(sample_image("chelsea")), tmp_path, "chelsea-quarter")
    shown = runner.invoke(main, ["--db", db, "search", str(query), "-k", "2", "--rerank", "keypoints", "--explain"])
    assert shown.exit_code == 0, shown.output
    assert "keypoints agree under one similarity map" in shown.output and "region of the stored image" in shown.output
    assert "verified keypoints:" in shown.output
    with Collection(db) as collection:  # the same search, its collection's cache looked at
        collection.search(query, k=2, rerank=KEYPOINTS)
        cache = V.feature_cache(collection.store.runtime)
    assert cache.disk_hits >= 1 and cache.misses <= 2  # candidates came from the files index wrote
    data = json.loads(runner.invoke(main, ["--db", db, "search", str(query), "-k", "1", "--rerank", "keypoints",
                                           "--json"]).output)
    assert data[0]["tier"] == "near-duplicate" and data[0]["explanation"]["keypoints"]["inliers"] >= 10
    removed = runner.invoke(main, ["--db", db, "remove", str(folder / "chelsea.png")])
    assert removed.exit_code == 0, removed.output
    left = {path.stem for path in (tmp_path / "cache").rglob("*.kp")}
    assert len(left) == 3 and hashlib_of(gallery / "chelsea.png") not in left


def hashlib_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()

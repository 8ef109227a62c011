"""Videos searchable by a frame, and grouped by their frame sequences: real videos encoded
with PyAV from scikit-image's photos (tests/video_files.py), indexed with the default
features (CNN included), as a user's would be."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Collection, Settings
from lookalike.demo import sample_image
from lookalike.errors import CorruptImage, DecodeError, ImageTooLarge
from lookalike.records import timestamp
from lookalike.scoring import frame_is_blank
from lookalike.sequences import FrameMatch, chain_in_order
from lookalike.video import VideoLimits, frame_at, sample_frames

pytest.importorskip("av", reason="videos need PyAV: pip install 'lookalike[video]'")

from tests import video_files  # noqa: E402  (needs av)
from tests.conftest import STORES, store_url  # noqa: E402

SOURCE_PHOTOS = ["astronaut", "chelsea", "coffee", "rocket"]
LIMITS = VideoLimits(max_bytes=1 << 30, max_pixels=10_000_000, max_seconds=600.0, max_frames=100)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A slideshow with pans, its re-encode (smaller, lower bitrate, another container), a
    trim, an unrelated video with a black first second, two unrelated videos that open on
    one title card, and a truncated and a corrupted copy and a text file named .mp4."""
    folder = tmp_path_factory.mktemp("videos")
    library = folder / "library"
    library.mkdir()
    source = video_files.encode(library / "slideshow.mp4", video_files.pan_frames(SOURCE_PHOTOS, 3.0))
    card = video_files.title_card("Holiday 2026")
    made = {
        "source": source,
        "reencoded": video_files.transcode(source, library / "slideshow-small.mov", size=(256, 192), bit_rate=150_000),
        "trimmed": video_files.transcode(source, library / "slideshow-trim.mkv", start=2.5, end=8.5),
        "black_start": video_files.encode(library / "black-start.mp4", [
            *video_files.black(1.0), *video_files.pan_frames(["coins", "camera", "immunohistochemistry"], 2.0)]),
        # intro-a also shows the slideshow's cat for 2 s (scikit-image's cat is chelsea): a scene
        # in common is not a duplicate either; intro-b starts black too
        "intro_a": video_files.encode(library / "intro-a.mp4", [
            *video_files.still_frames(card, 2.0), *video_files.pan_frames(["hubble_deep_field", "cat"], 2.0)]),
        "intro_b": video_files.encode(library / "intro-b.mp4", [
            *video_files.black(1.0), *video_files.still_frames(card, 2.0),
            *video_files.pan_frames(["retina", "motorcycle_left"], 2.0)]),
    }
    broken = folder / "broken"
    broken.mkdir()
    made["truncated"] = video_files.truncated(source, broken / "truncated.mp4")
    made["corrupted"] = video_files.corrupted(source, broken / "corrupted.mp4")
    made["not_a_video"] = broken / "notes.mp4"
    made["not_a_video"].write_text("not a video at all\n")
    return made


@pytest.fixture(scope="module")
def library(videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Collection:
    """The good videos indexed with the default features (read-only for the tests)."""
    with Collection(tmp_path_factory.mktemp("video-store") / "videos.db") as collection:
        report = collection.index([videos["source"].parent])
        assert report.skipped == [] and report.indexed == 6
        yield collection


def test_frames_are_sampled_by_time_and_cut_and_never_blank(videos):
    frames = sample_frames(videos["source"], LIMITS, min_side=128)
    times = [frame.seconds for frame in frames]
    # one a second over 12 s (the cuts fall on whole seconds here); B-frames are not decoded, so
    # a kept frame may be the reference frame a fraction of a second after its second
    assert times[0] == 0.0 and all(b - a <= 1.25 for a, b in zip(times, times[1:]))
    assert 12 <= len(frames) <= 16
    assert frames[0].image.size == (171, 128) and (frames[0].width, frames[0].height) == (320, 240)
    black_start = sample_frames(videos["black_start"], LIMITS)
    assert black_start[0].seconds >= 1.0  # the black second is not indexed
    assert not any(frame_is_blank(_grey_thumbnail(frame.image)) for frame in black_start)


def test_a_title_card_held_for_seconds_is_one_frame(videos):
    frames = sample_frames(videos["intro_a"], LIMITS)
    assert [frame.seconds for frame in frames if frame.seconds < 2.0] == [0.0]


def test_limits_bound_frames_seconds_bytes_and_pixels(videos):
    assert len(sample_frames(videos["source"], VideoLimits(1 << 30, 10_000_000, 600.0, 3))) == 3
    assert max(f.seconds for f in sample_frames(videos["source"], VideoLimits(1 << 30, 10_000_000, 4.0, 100))) <= 4.0
    with pytest.raises(ImageTooLarge, match="bytes"):
        sample_frames(videos["source"], VideoLimits(1000, 10_000_000, 600.0, 100))
    with pytest.raises(ImageTooLarge, match="pixels"):
        sample_frames(videos["source"], VideoLimits(1 << 30, 320 * 240 - 1, 600.0, 100))


def test_broken_videos_raise_a_decode_error_naming_the_file(videos):
    for name in ("truncated", "not_a_video"):
        with pytest.raises(CorruptImage, match=str(videos[name])):
            sample_frames(videos[name], LIMITS)
    with pytest.raises(DecodeError, match="corrupted.mp4"):
        sample_frames(videos["corrupted"], LIMITS)


def test_broken_videos_are_skipped_with_their_reason_and_the_batch_goes_on(videos, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(videos["truncated"].parent, folder)
    shutil.copy(videos["intro_a"], folder)
    with Collection(tmp_path / "mixed.db", Settings(features=("dhash", "phash"))) as collection:
        report = collection.index([folder])
    skipped = dict(report.skipped)
    assert report.indexed == 1 and set(skipped) == {str(folder / n) for n in ("truncated.mp4", "corrupted.mp4", "notes.mp4")}
    assert all("video" in reason for reason in skipped.values()), skipped


def test_a_frame_finds_its_video_and_the_second(library, videos, tmp_path):
    query = tmp_path / "frame.png"
    video_files.frame_at(videos["source"], 7.3).save(query)
    matches = library.search(query, k=5)
    by_video = {Path(m.image.path).name: m for m in matches}
    source = by_video["slideshow.mp4"]
    assert source is matches[0] or matches[0].image.path in {str(videos["reencoded"]), str(videos["trimmed"])}
    assert source.tier == "near-duplicate" and abs(source.image.seconds - 7.3) <= 1.0
    assert abs(by_video["slideshow-trim.mkv"].image.seconds - (7.3 - 2.5)) <= 1.0
    assert len(matches) == len(by_video)  # each video once, at its best frame
    assert source.image.place == f"{videos['source']} @ {timestamp(source.image.seconds)}"
    assert source.to_dict()["timestamp"] == timestamp(source.image.seconds)


def test_reencode_and_trim_group_with_their_source_and_nothing_else(library, videos):
    groups = [{Path(image.path).name for image in group.images} for group in library.duplicates()]
    assert {"slideshow.mp4", "slideshow-small.mov", "slideshow-trim.mkv"} in groups
    assert not any("black-start.mp4" in group for group in groups)
    assert not any("intro-a.mp4" in group or "intro-b.mp4" in group for group in groups)  # one title card


def test_a_chain_needs_several_frames_in_time_order_at_one_offset():
    in_order = [FrameMatch(t, t + 2.5, 0.9) for t in range(5)]
    assert len(chain_in_order(in_order)) == 5
    shuffled = [FrameMatch(3.0 * n, second, 0.9) for n, second in enumerate([12.0, 0.0, 9.0, 3.0, 6.0])]
    assert len(chain_in_order(shuffled)) == 2  # (9, 3) and (12, 6): the others at other offsets


def test_thumbnail_of_a_frame_is_that_frame(library, videos):
    record = next(r for r in library.page(0, 1000) if r.seconds is not None and r.seconds > 5)
    picture = frame_at(videos["source"] if record.path == str(videos["source"]) else record.path, record.seconds, LIMITS)
    assert picture.size == (record.width, record.height)


@pytest.mark.parametrize("backend", STORES)
def test_removing_or_changing_a_video_handles_all_its_frames(backend, videos, tmp_path, request):
    folder = tmp_path / "clips"
    folder.mkdir()
    clip = shutil.copy(videos["intro_a"], folder / "clip.mp4")
    settings = Settings(db=tmp_path / "clips.db", store=store_url(backend, tmp_path, request, "video"),
                        features=("dhash", "phash"))
    with Collection(settings=settings) as collection:
        collection.index([folder])
        frames = len(collection)
        assert frames > 3 and collection.index([folder]).unchanged == 1
        shutil.copy(videos["intro_b"], clip)  # the same path shows another video now
        assert collection.index([folder]).indexed == 1
        assert {r.sha256 for r in collection.page(0, 1000) if r.video_id == r.id} == {_sha256(videos["intro_b"])}
        assert all(r.video_id is not None for r in collection.page(0, 1000))
        collection.remove([clip])
        assert len(collection) == 0 and collection.index_sizes() == {"dhash": 0, "phash": 0}


def test_a_milvus_store_finds_a_video_by_a_frame(videos, tmp_path, request):
    """The frames' videos and times live in NAME_frames on a Milvus server as in the embedded
    store's catalog: a frame finds its video and the second there too."""
    settings = Settings(db=tmp_path / "m.db", store=store_url("milvus", tmp_path, request, "video_search"),
                        features=("dhash", "phash", "color"))
    query = tmp_path / "frame.png"
    video_files.frame_at(videos["source"], 7.3).save(query)
    with Collection(settings=settings) as collection:
        collection.add([videos["source"], videos["intro_a"]])
        best = collection.search(query, k=3)[0]
        assert best.image.path == str(videos["source"]) and abs(best.image.seconds - 7.3) <= 1.0
        assert best.image.video_id is not None and best.tier in ("exact", "near-duplicate")


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _grey_thumbnail(image):
    return np.asarray(image.convert("L").resize((32, 32)), dtype=np.float32)


def test_the_api_shows_a_video_result_with_its_time_and_serves_the_frame(library, videos, tmp_path):
    from tests.server.conftest import start_server, stop_server

    query = tmp_path / "frame.jpg"
    video_files.frame_at(videos["source"], 4.2).save(query, quality=90)
    server = start_server(Path(library.store.location))
    try:
        with server.client() as http:
            results = http.post("/v1/search", files={"file": query.read_bytes()}, data={"k": "3"}).json()["results"]
            best = next(r for r in results if r["image"]["name"].startswith("slideshow.mp4 @ "))
            assert abs(best["image"]["seconds"] - 4.2) <= 1.0
            assert best["image"]["name"] == f"slideshow.mp4 @ {best['image']['timestamp']}"
            thumbnail = http.get(best["image"]["thumbnail_url"], params={"size": 96})
            assert thumbnail.headers["content-type"] == "image/jpeg"
            poster = Image.open(io.BytesIO(thumbnail.content)).convert("RGB")
            frame = video_files.frame_at(videos["source"], best["image"]["seconds"]).resize(poster.size)
            assert np.abs(np.asarray(poster, dtype=np.float32) - np.asarray(frame, dtype=np.float32)).mean() < 12
            assert http.get(best["image"]["file_url"]).headers["content-type"] == "video/mp4"
    finally:
        stop_server(server)


def test_the_cli_shows_a_video_result_with_its_time(library, videos, tmp_path):
    from click.testing import CliRunner

    from lookalike.cli import main

    query = tmp_path / "frame.png"
    video_files.frame_at(videos["source"], 10.4).save(query)
    result = CliRunner().invoke(main, ["--db", library.store.location, "search", str(query), "-k", "3"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if f"{videos['source']} @ " in line)
    shown = float(line.split(" @ 0:")[1].split()[0])
    assert abs(shown - 10.4) <= 1.0


def test_the_web_page_shows_a_video_result_with_its_time_and_frame(library, videos, tmp_path):
    page_tests = pytest.importorskip("tests.server.test_page")  # skips without Chromium or Playwright
    from tests.server.conftest import start_server, stop_server

    if not page_tests.CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium")
    query = tmp_path / "frame.png"
    video_files.frame_at(videos["source"], 1.6).save(query)
    server = start_server(Path(library.store.location))
    try:
        with page_tests.sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(page_tests.CHROMIUM),
                                                 args=page_tests.CHROMIUM_ARGS)
            page = page_tests.open_page(browser)
            page.goto(server.url)
            page_tests.search(page, query)
            card = page.locator("#results .card").filter(has_text="slideshow.mp4 @ ")
            page_tests.expect(card.locator(".badge.video")).to_have_text(re.compile(r"▶ 0:0[1-2]\.\d"))
            page_tests.expect(card.locator(".name")).to_have_text(re.compile(r"slideshow\.mp4 @ 0:0[1-2]\.\d"))
            page_tests.wait_for_images(page, "#results img")
            page.screenshot(path=tmp_path / "video-result.png")
            assert not page.uncaught_errors, page.uncaught_errors
            browser.close()
    finally:
        stop_server(server)


def test_times_count_from_the_start_of_a_stream_on_its_own_clock(tmp_path):
    """An MPEG-TS (a camcorder's .m2ts) starts its clock later than 0 and has no index to seek by;
    its first frame is at 0:00.0 and a frame's thumbnail is that frame."""
    clip = video_files.encode(tmp_path / "00001.m2ts", video_files.pan_frames(["coffee", "rocket"], 2.0))
    frames = sample_frames(clip, LIMITS)
    assert frames[0].seconds == 0.0 and 3.0 <= frames[-1].seconds < 4.0
    middle = frames[len(frames) // 2]
    picture = frame_at(clip, middle.seconds, LIMITS)
    assert np.abs(np.asarray(picture, dtype=np.float32) - np.asarray(middle.image, dtype=np.float32)).mean() < 1


def test_a_phone_video_is_turned_as_its_display_matrix_says(tmp_path):
    """Phones store a portrait video landscape with a display matrix (-90: turn clockwise)."""
    picture = sample_image("astronaut").resize((320, 240))
    clip = video_files.encode(tmp_path / "IMG_0005.MOV", video_files.still_frames(picture, 1.0), rotation=-90)
    (frame,) = sample_frames(clip, LIMITS)
    upright = picture.transpose(Image.Transpose.ROTATE_270)  # clockwise
    assert (frame.width, frame.height) == frame.image.size == (240, 320)
    assert np.abs(np.asarray(frame.image, dtype=np.float32) - np.asarray(upright, dtype=np.float32)).mean() < 8
    assert frame_at(clip, 0.0, LIMITS).size == (240, 320)


def test_migrating_a_store_keeps_frames_tied_to_their_video(videos, tmp_path, monkeypatch):
    from lookalike import migrate as migrate_module
    from lookalike.store import open_store

    monkeypatch.setattr(migrate_module, "BATCH", 3)  # frames whose video was copied in an earlier batch
    features = ("dhash", "phash")
    with Collection(tmp_path / "source.db", Settings(features=features)) as source:
        source.add([videos["intro_a"], videos["black_start"]])
        expected = {(r.sha256, r.seconds, r.path) for r in source.page(0, 1000)}
        with open_store(Settings(db=tmp_path / "copy.db", features=features)) as target:
            assert migrate_module.migrate(source.store, target) == len(expected)
        with Collection(tmp_path / "copy.db") as copy:
            assert {(r.sha256, r.seconds, r.path) for r in copy.page(0, 1000)} == expected
            assert len({r.video_id for r in copy.page(0, 1000)}) == 2
            copy.remove([videos["intro_a"]])
            assert {r.path for r in copy.page(0, 1000)} == {str(videos["black_start"])}


def test_timestamps_read_as_people_read_them():
    assert [timestamp(s) for s in (0, 12.44, 62.0, 3723.46)] == ["0:00.0", "0:12.4", "1:02.0", "1:02:03.5"]

"""Indexing cost per minute of video (issue 18), on this machine.

    python -m bench.video [--quick] [--data bench-data] [--docs docs]

Makes slideshows with pans from scikit-image's real photos (each photo panned across for
SECONDS_PER_PHOTO seconds, H.264 in MP4, 30 fps, encoded with PyAV), at 1920 x 1080, 1280 x 720
and 640 x 360, one minute each (`--quick`: 12 seconds at 640 x 360), kept in DATA/video; then
for each video:

- sampling alone (`lookalike.video.sample_frames`: every frame decoded, the kept ones
  converted): seconds (median of ROUNDS runs), frames kept;
- indexing it into a new store with every default feature (`Collection.add`: sampling,
  features of every kept frame, storing), seconds as the index report states them (median
  of ROUNDS runs, a new store each), the models loaded beforehand (by indexing one photo: a
  one-time cost per process);
- a search by a frame from the middle of the video: the time of the frame found.

Raw numbers go to DATA/results/video.json and the section to DATA/results/video.md; `run`
returns the section for docs/benchmarks.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from PIL import Image

from lookalike import Collection, Settings
from lookalike.demo import sample_image
from lookalike.video import VideoLimits, sample_frames

from .arguments import benchmark_parser
from .machine import machine_line
from .results import write_json

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field", "immunohistochemistry",
          "retina", "coins", "camera")
SECONDS_PER_PHOTO = 6.0
FPS = 30
ROUNDS = 5  # sampling and indexing (a new store each time) timed this many times: medians


@dataclass(frozen=True)
class Clip:
    name: str
    size: tuple[int, int]
    seconds: float


FULL = (Clip("fhd-1080p", (1920, 1080), 60.0), Clip("hd-720p", (1280, 720), 60.0), Clip("sd-360p", (640, 360), 60.0))
QUICK = (Clip("sd-360p-quick", (640, 360), 12.0),)


def log(message: str) -> None:
    print(f"[video {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pan_frames(clip: Clip) -> Iterator[Image.Image]:
    """The photos in turn, the camera panning across each (a window of 80% of its width)."""
    per_photo = int(SECONDS_PER_PHOTO * FPS)
    total = int(clip.seconds * FPS)
    width, height = clip.size
    photos = {name: sample_image(name) for name in PHOTOS}
    for number in range(total):
        photo = photos[PHOTOS[(number // per_photo) % len(PHOTOS)]]
        window_w = int(photo.width * 0.8)
        window_h = min(photo.height, int(window_w * height / width))
        step = number % per_photo
        left = int((photo.width - window_w) * step / max(1, per_photo - 1))
        top = (photo.height - window_h) // 2
        yield photo.crop((left, top, left + window_w, top + window_h)).resize(clip.size, Image.Resampling.BILINEAR)


def make_clip(clip: Clip, folder: Path) -> Path:
    """The clip's MP4 in `folder`, encoded once (kept for later runs)."""
    import av

    path = folder / f"{clip.name}.mp4"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    with av.open(str(partial), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
        stream.width, stream.height = clip.size
        stream.pix_fmt = "yuv420p"
        for image in pan_frames(clip):
            container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode(None))
    os.replace(partial, path)
    return path


def measure(clip: Clip, path: Path, rounds: int) -> dict[str, Any]:
    settings = Settings()
    limits = VideoLimits.of(settings)
    sampling, sampling_cpu = [], []
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        frames = sample_frames(path, limits, min_side=256)
        sampling.append(time.perf_counter() - started)
        sampling_cpu.append(time.process_time() - cpu)
    indexing, indexing_cpu = [], []
    for number in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-video-") as scratch:
            with Collection(Path(scratch) / "video.db") as collection:
                warm_up = Path(scratch) / "warm-up.png"  # loads the models: a one-time cost, not the video's
                sample_image("moon").save(warm_up)
                collection.add([warm_up])
                cpu = time.process_time()
                report = collection.add([path])
                indexing_cpu.append(time.process_time() - cpu)
                assert report.indexed == 1, report.to_dict()
                indexing.append(report.seconds)
                if number == rounds - 1:
                    middle = clip.seconds / 2 + 0.4
                    query = Path(scratch) / "frame.png"
                    frame_at_middle(path, middle).save(query)
                    started = time.perf_counter()
                    best = collection.search(query, k=1)[0]
                    search_seconds = time.perf_counter() - started
    minutes = clip.seconds / 60
    return {
        "clip": clip.name, "width": clip.size[0], "height": clip.size[1], "seconds": clip.seconds, "fps": FPS,
        "bytes": path.stat().st_size, "frames": int(clip.seconds * FPS), "frames_kept": len(frames),
        "sampling_s": statistics.median(sampling), "indexing_s": statistics.median(indexing),
        "sampling_cpu_s": statistics.median(sampling_cpu), "indexing_cpu_s": statistics.median(indexing_cpu),
        "indexing_s_per_minute": statistics.median(indexing) / minutes,
        "indexing_cpu_s_per_minute": statistics.median(indexing_cpu) / minutes, "sampling_s_per_minute": statistics.median(sampling) / minutes,
        "search_s": search_seconds, "query_time_s": middle, "found_time_s": best.image.seconds, "found_tier": best.tier,
    }


def frame_at_middle(path: Path, seconds: float) -> Image.Image:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= seconds:
                return frame.to_image()
    raise ValueError(f"{path} has no frame at {seconds} s")


def render(results: dict[str, Any]) -> str:
    rows = results["clips"]
    lines = [
        "## Video",
        "",
        "Issue 18: what indexing a video costs (`python -m bench.video`). Each video is a slideshow panning across "
        f"scikit-image's photos ({SECONDS_PER_PHOTO:.0f} s each, H.264 with B-frames, {FPS} fps, encoded with PyAV), "
        "indexed into a new store with every default feature. Sampling decodes the reference frames (about half: "
        "the B-frames are skipped) and keeps one a second (and the first after a cut), skipping blank and "
        "unchanged ones (`lookalike.video`); indexing is "
        "sampling plus the features of every kept frame (the CNNs) and storing them, the models loaded "
        "beforehand (a one-time cost per process). "
        f"Medians of {results['rounds']} runs (indexing: a new store each). Machine: {results['machine']}.",
        "",
        "Load average (1, 5, 15 minutes) before the run: " + ", ".join(f"{v:.2f}" for v in results["load_before"])
        + "; after: " + ", ".join(f"{v:.2f}" for v in results["load_after"]) + " (the machine is shared: a load "
        "above its 2 cores slows every number here).",
        "",
        "Wall-clock seconds, and in brackets the CPU seconds of the process (all its threads: the decoder "
        "and onnxruntime use both cores), which a busy machine inflates less.",
        "",
        "| video | length | file | frames | frames kept | sampling | indexing | indexing per minute of video "
        "| search by a frame (found at / asked) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['width']} x {row['height']} | {row['seconds']:.0f} s | {row['bytes'] / 1e6:.1f} MB "
            f"| {row['frames']:,} | {row['frames_kept']} | {row['sampling_s']:.1f} s ({row['sampling_cpu_s']:.1f}) "
            f"| {row['indexing_s']:.1f} s ({row['indexing_cpu_s']:.1f}) "
            f"| **{row['indexing_s_per_minute']:.1f} s** ({row['indexing_cpu_s_per_minute']:.1f}) "
            f"| {row['search_s']:.2f} s, {row['found_tier']} "
            f"({row['found_time_s']:.1f} s / {row['query_time_s']:.1f} s) |")
    lines.append("")
    return "\n".join(lines)


def run(data: Path, docs: Path, quick: bool = False) -> str:
    clips = QUICK if quick else FULL
    results: dict[str, Any] = {"machine": machine_line("av"), "rounds": 1 if quick else ROUNDS, "quick": quick,
                               "clips": [], "load_before": os.getloadavg()}
    for clip in clips:
        log(f"{clip.name}: making ({clip.seconds:.0f} s at {clip.size[0]} x {clip.size[1]})")
        path = make_clip(clip, data / "video")
        log(f"{clip.name}: measuring")
        results["clips"].append(measure(clip, path, results["rounds"]))
    results["load_after"] = os.getloadavg()
    write_json(results, data / "results" / "video.json")
    section = render(results)
    (data / "results" / "video.md").write_text(section)
    return section


def main(argv: list[str] | None = None) -> None:
    args = benchmark_parser("python -m bench.video", __doc__.splitlines()[0]).parse_args(argv)
    print(run(args.data, args.docs, quick=args.quick))


if __name__ == "__main__":
    main()

"""Small real videos for the tests, encoded with PyAV from scikit-image's photos: a slideshow
whose camera pans across each photo, and what people do to videos (re-encode at another size
and bitrate, trim, put a black second or a title card first). 320 x 240 at 10 fps: a few
seconds of video encode in well under a second."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw

from lookalike.demo import sample_image

FPS = 10
SIZE = (320, 240)


def pan_frames(photos: Sequence[str], seconds_per_photo: float = 2.0, size: tuple[int, int] = SIZE,
               fps: int = FPS) -> Iterator[Image.Image]:
    """Each photo in turn, the camera panning from its left to its right edge (a window of
    85% of its width, the photo's aspect kept)."""
    count = int(round(seconds_per_photo * fps))
    for name in photos:
        photo = sample_image(name).convert("RGB")
        window_w = int(photo.width * 0.85)
        window_h = min(photo.height, int(window_w * size[1] / size[0]))
        top = (photo.height - window_h) // 2
        for number in range(count):
            left = int((photo.width - window_w) * number / max(1, count - 1))
            yield photo.crop((left, top, left + window_w, top + window_h)).resize(size, Image.Resampling.BILINEAR)


def still_frames(image: Image.Image, seconds: float, fps: int = FPS) -> list[Image.Image]:
    return [image] * int(round(seconds * fps))


def black(seconds: float, size: tuple[int, int] = SIZE) -> list[Image.Image]:
    return still_frames(Image.new("RGB", size, (0, 0, 0)), seconds)


def title_card(text: str, size: tuple[int, int] = SIZE) -> Image.Image:
    card = Image.new("RGB", size, (30, 40, 120))
    draw = ImageDraw.Draw(card)
    for row in range(4):
        draw.text((20, 40 + 40 * row), f"{text} {row}", fill=(255, 255, 200))
    draw.rectangle((10, 10, size[0] - 10, size[1] - 10), outline=(250, 200, 0), width=4)
    return card


def encode(path: Path, frames: Iterable[Image.Image], *, fps: int = FPS, codec: str = "libx264",
           bit_rate: int | None = None, size: tuple[int, int] | None = None, rotation: int = 0) -> Path:
    """Write `frames` as a video (container from the suffix); `rotation`: the display matrix's
    counter-clockwise turn, as a phone writes it (-90: held upright, shown turned clockwise)."""
    import av

    frames = iter(frames)
    first = next(frames)
    size = size or first.size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if bit_rate:
            stream.bit_rate = bit_rate
        if rotation:
            stream.set_display_rotation(rotation)
        for image in (first, *frames):
            if image.size != size:
                image = image.resize(size, Image.Resampling.BILINEAR)
            container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode(None))
    return path


def decoded(path: Path, start: float = 0.0, end: float | None = None) -> Iterator[Image.Image]:
    """The frames of a video from `start` to `end` seconds, as pictures."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time < start - 1e-6 or (end is not None and frame.time >= end):
                continue
            yield frame.to_image()


def frame_at(path: Path, seconds: float) -> Image.Image:
    """The picture the video shows at `seconds` (the first frame at or after it)."""
    return next(decoded(path, start=seconds))


def transcode(source: Path, target: Path, *, size: tuple[int, int] | None = None, bit_rate: int | None = None,
              start: float = 0.0, end: float | None = None, codec: str = "libx264") -> Path:
    """Re-encode (another size, bitrate, codec) or trim a video, as a video editor would."""
    return encode(target, decoded(source, start, end), codec=codec, bit_rate=bit_rate, size=size)


def truncated(source: Path, target: Path, share: float = 0.5) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * share)])
    return target


def corrupted(source: Path, target: Path, seed: int = 7) -> Path:
    """The video with its middle overwritten by random bytes."""
    data = bytearray(source.read_bytes())
    rng = np.random.default_rng(seed)
    start = len(data) // 4
    data[start : start + len(data) // 2] = rng.integers(0, 256, len(data) // 2, dtype=np.uint8).tobytes()
    target.write_bytes(bytes(data))
    return target

"""A video file -> the frames that stand for it, through PyAV (FFmpeg in its wheels).

A video is indexed as a few of its frames, each an ordinary stored image tied to the video
and its time (`catalog.migrations.m009_video_frames`). Which frames (`sample_frames`):

- by time: one every FRAME_STEP_SECONDS (longer for a long video, so that at most
  `VideoLimits.max_frames` frames cover all of it);
- by scene change: the first frame after a cut (consecutive frames differing by
  `scoring.SCENE_CHANGE_MIN_DIFF`) whatever the time since the last one;
- never a blank frame (black, white, one flat colour, a fade: `scoring.frame_is_blank`):
  videos that start black would otherwise all share a frame (immich #9794: 17,000 false
  duplicates from black first frames);
- never a frame that shows what the last kept one showed (a still shot, a title card held
  for seconds: `scoring.FRAME_STILL_MAX_DIFF`), so one title card is one frame, and two
  videos that share it share one frame, not a sequence (see `lookalike.sequences`).

The reference frames are decoded (keyframes alone are seconds apart and miss cuts; the
frames no other frame refers to, B-frames mostly, are skipped: half of an H.264 video's
frames and half the decoding time at 1080p, and still a dozen frames a second), but only the
kept ones are converted to full pictures; the others are compared as 32 x 32 grey thumbnails.
PyAV is imported on first use: `pip install 'lookalike[video]'`.

Limits, like an image's (`VideoLimits`): the file's bytes, the frame's pixels, the seconds
of video decoded (the rest of a longer video is not indexed) and the frames kept. A file
FFmpeg cannot read, or that breaks while decoding, raises a `DecodeError` naming it.
"""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
from PIL import Image

from .errors import CorruptImage, DecodeError, ImageTooLarge, NotAnImage
from .scoring import FRAME_STILL_MAX_DIFF, SCENE_CHANGE_MIN_DIFF, frame_difference, frame_is_blank

if TYPE_CHECKING:
    from .settings import Settings

FRAME_STEP_SECONDS = 1.0
# The grey thumbnail frames are compared on (cheap: FFmpeg's scaler makes it).
SIGNATURE_SIDE = 32
# A decoder may not produce more frames than this per second of video allowed (a file
# claiming 1,000,000 frames per second would otherwise decode forever within the limit).
MAX_FRAMES_PER_SECOND = 240
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class VideoLimits:
    """How much of a video is read: bytes of the file, pixels of a frame, seconds from its
    start, frames kept. From `Settings` (`video_max_bytes`, `max_pixels`,
    `video_max_seconds`, `video_max_frames`)."""

    max_bytes: int
    max_pixels: int
    max_seconds: float
    max_frames: int

    @classmethod
    def of(cls, settings: "Settings") -> "VideoLimits":
        return cls(settings.video_max_bytes, settings.max_pixels, settings.video_max_seconds, settings.video_max_frames)


@dataclass(frozen=True)
class Frame:
    """A kept frame: its time from the video's start, the upright picture (scaled down to
    the short side asked for) and the video's full upright frame size."""

    seconds: float
    image: Image.Image
    width: int
    height: int


def frame_sha256(video_sha256: str, seconds: float) -> str:
    """The made-up content hash of a video's frame other than its poster (the catalog keys
    images by content): the video's hash and the frame's time, in milliseconds."""
    return hashlib.sha256(f"{video_sha256}@{round(seconds * 1000)}ms".encode()).hexdigest()


def file_sha256(path: str | Path, limits: VideoLimits) -> tuple[str, int]:
    """(SHA-256 of the file, its size), read in chunks (a video may not fit in memory);
    refuses a file over `limits.max_bytes`."""
    path = Path(path)
    size = _checked_size(path, limits)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_READ_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise DecodeError(path, f"cannot read file ({exc.strerror or exc})") from None
    return digest.hexdigest(), size


def sample_frames(path: str | Path, limits: VideoLimits, min_side: int | None = None) -> list[Frame]:
    """The frames that stand for the video (see the module docstring), in time order. Raises
    a `DecodeError` for an unreadable or broken video, or one without a frame worth keeping."""
    path = Path(path)
    _checked_size(path, limits)
    kept: list[Frame] = []
    with _opened(path) as (container, stream):
        size = _checked_frame_size(path, stream, limits)
        step = _step(stream, container, limits)
        last_kept: np.ndarray | None = None
        previous: np.ndarray | None = None
        due = 0.0
        for seconds, frame in _decoded(path, container, stream, limits):
            signature = _signature(frame)
            cut = previous is not None and frame_difference(signature, previous) >= SCENE_CHANGE_MIN_DIFF
            previous = signature
            if (seconds < due and not cut) or frame_is_blank(signature):
                continue
            if last_kept is not None and frame_difference(signature, last_kept) <= FRAME_STILL_MAX_DIFF:
                due = seconds + step
                continue
            kept.append(Frame(seconds, _picture(frame, min_side), *_upright(size, frame)))
            last_kept, due = signature, seconds + step
            if len(kept) >= limits.max_frames:
                break
    if not kept:
        raise CorruptImage(path, "no frame with a picture (every frame decoded was blank)")
    return kept


def frame_at(path: str | Path, seconds: float, limits: VideoLimits, min_side: int | None = None) -> Image.Image:
    """The upright picture shown at `seconds` (the first frame at or after it, allowing a
    millisecond), e.g. for a frame's thumbnail. Seeks to the keyframe before it; where the
    container cannot seek there (an MPEG-TS without an index), decodes from the start."""
    path = Path(path)
    _checked_size(path, limits)
    for seek in (seconds > 0, False):
        with _opened(path) as (container, stream):
            _checked_frame_size(path, stream, limits)
            if seek and stream.time_base:
                container.seek(int((seconds + _origin(stream)) / stream.time_base), stream=stream, backward=True)
            for shown, frame in _decoded(path, container, stream, limits):
                if shown >= seconds - 1e-3:
                    return _picture(frame, min_side)
        if not seek:
            break
    raise CorruptImage(path, f"no frame at {seconds:.3f} s")


def _checked_size(path: Path, limits: VideoLimits) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DecodeError(path, f"cannot read file ({exc.strerror or exc})") from None
    if size > limits.max_bytes:
        raise ImageTooLarge(path, size, limits.max_bytes, unit="bytes",
                            fix="raise Settings.video_max_bytes if you trust this file")
    if size == 0:
        raise NotAnImage(path, "empty file")
    return size


def _av(path: Path) -> Any:
    try:
        import av
    except ImportError:
        raise DecodeError(path, "videos need PyAV: pip install 'lookalike[video]'") from None
    return av


@contextmanager
def _opened(path: Path) -> Iterator[tuple[Any, Any]]:
    """The open container and its first video stream (decoded on all cores, reference frames only)."""
    av = _av(path)
    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as exc:
        raise CorruptImage(path, f"not a video FFmpeg can read, or a damaged one ({_message(exc)})") from None
    try:
        if not container.streams.video:
            raise NotAnImage(path, "no video stream in the file")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONREF"  # see the module docstring
        yield container, stream
    finally:
        container.close()


def _checked_frame_size(path: Path, stream: Any, limits: VideoLimits) -> tuple[int, int]:
    """The upright frame size the stream declares, refused over `limits.max_pixels`."""
    width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
    if width * height > limits.max_pixels:
        raise ImageTooLarge(path, width * height, limits.max_pixels)
    if width * height == 0:
        raise CorruptImage(path, "video frames have no pixels")
    return width, height


def _step(stream: Any, container: Any, limits: VideoLimits) -> float:
    """FRAME_STEP_SECONDS, or longer so that `max_frames` frames span the decoded part."""
    duration = None
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000
    if not duration or not math.isfinite(duration):
        return FRAME_STEP_SECONDS
    return max(FRAME_STEP_SECONDS, min(duration, limits.max_seconds) / limits.max_frames)


def _decoded(path: Path, container: Any, stream: Any, limits: VideoLimits) -> Iterator[tuple[float, Any]]:
    """(seconds from the video's start, frame) up to `limits.max_seconds`; FFmpeg's errors
    become CorruptImage."""
    av = _av(path)
    allowed = int(limits.max_seconds * MAX_FRAMES_PER_SECOND) + 1
    origin = _origin(stream)
    try:
        for count, frame in enumerate(container.decode(stream)):
            seconds = max(0.0, float(frame.time) - origin) if frame.time is not None else 0.0
            if count >= allowed or seconds > limits.max_seconds:
                return
            yield seconds, frame
    except av.FFmpegError as exc:
        raise CorruptImage(path, f"damaged video data ({_message(exc)})") from None


def _origin(stream: Any) -> float:
    """When the stream starts on its own clock (MPEG-TS, edited MP4s): times are told from there."""
    if stream.start_time is None or not stream.time_base:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _signature(frame: Any) -> np.ndarray:
    """A 32 x 32 grey thumbnail (float): what blankness and change are judged on."""
    small = frame.reformat(width=SIGNATURE_SIDE, height=SIGNATURE_SIDE, format="gray", interpolation="AREA")
    return small.to_ndarray().astype(np.float32)


def _picture(frame: Any, min_side: int | None) -> Image.Image:
    """The frame upright as RGB, scaled down so its short side is `min_side` (never up)."""
    width, height = frame.width, frame.height
    scale = min_side / min(width, height) if min_side else 1.0
    if scale < 1.0:
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    image = frame.to_image(width=width, height=height, interpolation="AREA")
    rotation = _rotation(frame)
    return image.rotate(rotation, expand=True) if rotation else image


def _rotation(frame: Any) -> int:
    """How far to turn the frame counter-clockwise (degrees), as its display matrix says."""
    return int(round(frame.rotation or 0)) % 360


def _upright(size: tuple[int, int], frame: Any) -> tuple[int, int]:
    return size[::-1] if _rotation(frame) in (90, 270) else size


def _message(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc).strip()

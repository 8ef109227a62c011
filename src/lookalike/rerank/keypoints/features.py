"""Local features of one image: SIFT (ORB as the fast fallback) on a grey copy whose long
side is at most `WORK_SIDE` pixels, the strongest `MAX_KEYPOINTS` kept, positions given in
the ORIGINAL image's pixels and put in a canonical order (deterministic); their compact
serialisation for the cache files, and their cache key. OpenCV (opencv-python-headless) is
imported on first use only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image

Method = Literal["sift", "orb"]

DEFAULT_METHOD: Method = "sift"  # ORB where OpenCV lacks SIFT (before 4.4): see default_method()
WORK_SIDE = 480  # long side of the grey working copy (SIFT doubles it internally)
# The short side to decode an image with so that a 4:3 picture keeps a WORK_SIDE-long working
# copy: JPEG draft decoding may otherwise hand over a 1/8-size picture of a large photo.
DECODE_MIN_SIDE = WORK_SIDE * 3 // 4
MAX_KEYPOINTS = 1000
FORMAT = 1  # of cached feature files; bump when extraction changes


@dataclass(frozen=True, eq=False)
class LocalFeatures:
    """Keypoints of one image. `points` are (x, y) in the original image's pixels (for a
    `mirrored` extraction: still in the unmirrored image's pixels); `work_scale` is working
    pixels per original pixel (the RANSAC threshold applies at the working scale)."""

    method: str
    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, d) uint8: 128 bytes (SIFT) or 32 bytes of bits (ORB)
    width: int
    height: int
    work_scale: float
    mirrored: bool = False

    def __len__(self) -> int:
        return len(self.points)

    @property
    def nbytes(self) -> int:
        """Memory held, including the float descriptors `unit_descriptors` caches."""
        extra = self.descriptors.size * 4 if self.method == "sift" else 0
        return int(self.points.nbytes + self.descriptors.nbytes) + extra + 200

    def unit_descriptors(self) -> np.ndarray:
        """RootSIFT descriptors as float32 unit vectors, computed once (SIFT only)."""
        cached = self.__dict__.get("_unit")
        if cached is None:
            cached = _root_sift(self.descriptors)
            object.__setattr__(self, "_unit", cached)
        return cached

    def to_bytes(self) -> bytes:
        """A compact serialisation (cache files; a catalog column could hold it too): a
        header line of JSON, then the raw points and descriptors."""
        header = json.dumps({
            "format": FORMAT, "method": self.method, "count": len(self), "dim": int(self.descriptors.shape[1]),
            "width": self.width, "height": self.height, "work_scale": self.work_scale, "mirrored": self.mirrored,
        }).encode()
        points = np.ascontiguousarray(self.points, dtype="<f4").tobytes()
        descriptors = np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes()
        return _MAGIC + header + b"\n" + points + descriptors

    @classmethod
    def from_bytes(cls, data: bytes) -> "LocalFeatures":
        if not data.startswith(_MAGIC) or b"\n" not in data[:4096]:
            raise ValueError("not a lookalike keypoint file")
        end = data.index(b"\n")
        header = json.loads(data[len(_MAGIC) : end])
        if header.get("format") != FORMAT:
            raise ValueError(f"keypoint file format {header.get('format')}, expected {FORMAT}")
        count, dim = int(header["count"]), int(header["dim"])
        body = memoryview(data)[end + 1 :]
        if len(body) != count * 8 + count * dim:
            raise ValueError("truncated keypoint file")
        points = np.frombuffer(body[: count * 8], dtype="<f4").reshape(count, 2).astype(np.float32)
        descriptors = np.frombuffer(body[count * 8 :], dtype=np.uint8).reshape(count, dim).copy()
        return cls(str(header["method"]), points, descriptors, int(header["width"]), int(header["height"]),
                   float(header["work_scale"]), bool(header["mirrored"]))


_MAGIC = b"LKKP"


_MAGIC = b"LKKP"


def _root_sift(descriptors: np.ndarray) -> np.ndarray:
    """RootSIFT (Arandjelovic & Zisserman): L1-normalise, square root; unit L2 length."""
    values = descriptors.astype(np.float32)
    values /= np.maximum(values.sum(axis=1, keepdims=True), 1e-6)
    return np.sqrt(values, out=values)


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        from ...errors import LookalikeError

        raise LookalikeError("keypoint verification needs OpenCV: pip install opencv-python-headless") from exc
    return cv2



def default_method() -> str:
    """SIFT when this OpenCV has it (4.4 and later: the patent expired), else ORB."""
    return DEFAULT_METHOD if hasattr(_cv2(), "SIFT_create") else "orb"


def _detector(method: str, max_keypoints: int) -> Any:
    """A new detector (about a microsecond to make; OpenCV objects are not shared across threads)."""
    cv2 = _cv2()
    if method == "sift":
        return cv2.SIFT_create(nfeatures=max_keypoints)
    if method == "orb":
        return cv2.ORB_create(nfeatures=max_keypoints)
    raise ValueError(f"unknown keypoint method {method!r}; known: sift, orb")


def extract_features(
    image: Image.Image,
    *,
    size: tuple[int, int] | None = None,
    mirrored: bool = False,
    method: str | None = None,
    max_side: int = WORK_SIDE,
    max_keypoints: int = MAX_KEYPOINTS,
) -> LocalFeatures:
    """Local features of one decoded image.

    `size`: the original (width, height) when `image` was decoded at reduced size (JPEG
    draft mode); points are scaled to it. `mirrored`: describe the left-right mirror image
    (SIFT and ORB turn with the picture but do not mirror), points still in unmirrored
    coordinates, so a mirrored copy verifies against the mirrored query."""
    method = method or default_method()
    width, height = size or image.size
    grey = image.convert("L")
    if mirrored:
        grey = grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    factor = min(1.0, max_side / max(grey.size))
    if factor < 1.0:
        grey = grey.resize(
            (max(1, round(grey.width * factor)), max(1, round(grey.height * factor))), Image.Resampling.BILINEAR,
            reducing_gap=3.0,  # box-reduce large photos first: much faster, no visible difference
        )
    pixels = np.asarray(grey)
    keypoints, descriptors = _detector(method, max_keypoints).detectAndCompute(pixels, None)
    descriptor_size = 128 if method == "sift" else 32
    if descriptors is None or not keypoints:
        points = np.zeros((0, 2), np.float32)
        descriptors = np.zeros((0, descriptor_size), np.uint8)
    else:
        raw = np.array([(k.pt[0], k.pt[1], k.size, k.angle, k.response) for k in keypoints], dtype=np.float64)
        order = np.lexsort((raw[:, 3], raw[:, 2], raw[:, 0], raw[:, 1], -raw[:, 4]))  # canonical order
        points = raw[order, :2].astype(np.float32)
        descriptors = np.clip(descriptors[order], 0, 255).astype(np.uint8)
        # working pixel centres -> original pixel coordinates
        points = (points + 0.5) * np.array([width / grey.width, height / grey.height], np.float32) - 0.5
        if mirrored:
            points[:, 0] = (width - 1) - points[:, 0]
    return LocalFeatures(method, points, descriptors, int(width), int(height), grey.width / width, mirrored)


def feature_key(sha256: str, method: str | None = None, max_side: int = WORK_SIDE,
                max_keypoints: int = MAX_KEYPOINTS) -> str:
    """The cache key of a file's features: its content hash and the extraction setting."""
    return f"{method or default_method()}-{max_side}-{max_keypoints}-v{FORMAT}/{sha256[:2]}/{sha256}"

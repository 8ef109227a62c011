"""Plain result records returned by the API (and printed by the CLI as tables or JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Tier = Literal["exact", "near-duplicate", "same-object", "similar"]
# "same": the same picture (a copy, an edit, a crop); "same-object": another photograph of the
# same thing (keypoints agree under a perspective map); "different": neither.
Verdict = Literal["same", "same-object", "different"]


@dataclass(frozen=True)
class ImageRecord:
    id: int
    sha256: str
    bytes: int
    width: int
    height: int
    format: str
    label: str | None
    added_at: str
    name: str | None = None  # the file name people know it by (uploads: the client's file name)
    paths: tuple[str, ...] = ()
    # SHA-256 of the decoded pixels (`decode.pixel_digest`) and how informative the image's
    # hashes are (`features.hashes.hash_detail`); None for images stored before they were
    # measured (and by backends that do not keep them): unknown, see `lookalike.scoring`.
    pixel_digest: str | None = None
    hash_detail: float | None = None
    # A video frame (`lookalike.video`): the id of its video's poster frame (the image that
    # carries the video's paths, which `paths` repeats) and its time in seconds; None for a picture.
    video_id: int | None = None
    seconds: float | None = None

    @property
    def path(self) -> str | None:
        return self.paths[0] if self.paths else None

    @property
    def place(self) -> str | None:
        """Where to look: the path, with a video frame's time (`clip.mp4 @ 0:12.4`)."""
        if self.seconds is None or self.path is None:
            return self.path
        return f"{self.path} @ {timestamp(self.seconds)}"

    def existing_path(self) -> str | None:
        """The first of its paths still on disk as a file (None when every copy is gone)."""
        return next((path for path in self.paths if Path(path).is_file()), None)


@dataclass(frozen=True)
class Match:
    """One search result. `evidence` holds each feature's similarity in [0, 1];
    `explanation`, when a re-ranking stage verified the match, why it matched (for
    keypoints: `{"keypoints": Verification.to_dict()}`, with the region and point pairs)."""

    image: ImageRecord
    score: float
    tier: Tier
    orientation: str
    evidence: dict[str, float]
    explanation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.image.id,
            "path": self.image.path,
            "paths": list(self.image.paths),
            "label": self.image.label,
            "score": round(self.score, 4),
            "tier": self.tier,
            "orientation": self.orientation,
            "evidence": {name: round(value, 4) for name, value in self.evidence.items()},
            "explanation": self.explanation,
            **video_fields(self.image),
        }


@dataclass(frozen=True)
class Comparison:
    """`probability`: P(same) from a learned feature's calibrated head (None without one);
    `explanation`: keypoint verification's evidence (`{"keypoints": {...}}`), when it ran."""

    score: float
    verdict: Verdict
    tier: Tier
    threshold: float
    orientation: str
    evidence: dict[str, float]
    probability: float | None = None
    explanation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(self.score, 4)
        data["evidence"] = {name: round(value, 4) for name, value in self.evidence.items()}
        if self.probability is not None:
            data["probability"] = round(self.probability, 4)
        return data


@dataclass(frozen=True)
class DuplicateGroup:
    """Images linked by near-duplicate scores; `weakest_link` is the lowest pairwise score."""

    images: tuple[ImageRecord, ...]
    weakest_link: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": len(self.images),
            "weakest_link": round(self.weakest_link, 4),
            "images": [_image_summary(image) for image in self.images],
        }


@dataclass(frozen=True)
class Neighbour:
    image: ImageRecord
    score: float


@dataclass(frozen=True)
class Neighbours:
    image: ImageRecord
    neighbours: tuple[Neighbour, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **_image_summary(self.image),
            "neighbors": [
                {**_image_summary(n.image), "score": round(n.score, 4)} for n in self.neighbours
            ],
        }


@dataclass
class IndexReport:
    indexed: int = 0
    unchanged: int = 0
    linked: int = 0  # identical content already in the store: path recorded, no new image
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": path, "reason": reason} for path, reason in self.skipped]
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class StoreInfo:
    db: str
    images: int
    paths: int
    labels: int
    features: list[dict[str, Any]]
    db_bytes: int
    index_bytes: int
    thresholds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def timestamp(seconds: float) -> str:
    """A video time as people read it: 0:12.4, 1:02:03.5."""
    tenths = int(round(seconds * 10))
    minutes, rest = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    clock = f"{hours}:{minutes:02d}" if hours else f"{minutes}"
    return f"{clock}:{rest // 10:02d}.{rest % 10}"


def video_fields(image: ImageRecord) -> dict[str, Any]:
    """A video frame's fields for JSON (`video_id`, `seconds`, `timestamp`); {} for a picture."""
    if image.seconds is None:
        return {}
    return {"video_id": image.video_id, "seconds": round(image.seconds, 3), "timestamp": timestamp(image.seconds)}


def _image_summary(image: ImageRecord) -> dict[str, Any]:
    return {
        "id": image.id,
        "path": image.path,
        "paths": list(image.paths),
        "label": image.label,
        "width": image.width,
        "height": image.height,
        "bytes": image.bytes,
        **video_fields(image),
    }

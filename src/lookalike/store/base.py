"""The storage interface every backend implements: image metadata, paths, vectors and
nearest-neighbour search over them.

Indexing, search, duplicates, evaluation, the CLI and the HTTP service talk only to this
interface, so the embedded store (SQLite + FAISS, `embedded.py`) and a distributed vector
database (Milvus, `milvus.py`) are interchangeable. Similarities are in [0, 1] whatever
the backend does inside.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import numpy as np

from ..catalog.dedup_book import DedupBook
from ..errors import FeatureMismatch, LookalikeError, StoreError
from ..features.base import FeatureSpec
from ..records import ImageRecord
from ..runtime import Runtime
from ..settings import Settings

CANDIDATE_FAMILIES = ("hash", "embedding", "copy")
CALIBRATED_SETTINGS = ("min_near_duplicate_score", "min_same_score")


@dataclass(frozen=True)
class NewImage:
    """A decoded file about to be stored, with its content hash and upright size."""

    path: str
    mtime_ns: int
    size: int
    sha256: str
    width: int
    height: int
    format: str
    label: str | None
    name: str | None = None
    pixel_digest: str | None = None  # `decode.pixel_digest`
    hash_detail: float | None = None  # `features.hashes.hash_detail`
    # A video frame (`lookalike.video`): its time, and the SHA-256 of its video's file (the
    # poster frame's own `sha256`; the poster alone records `path`).
    seconds: float | None = None
    video_sha256: str | None = None

    @property
    def is_poster(self) -> bool:
        """A picture, or the frame that stands for its video: the one that records the path."""
        return self.video_sha256 is None or self.video_sha256 == self.sha256


@dataclass(frozen=True)
class PathLink:
    """A file whose content (by hash) is already stored: only its path is recorded."""

    path: str
    mtime_ns: int
    size: int
    sha256: str


class Store(ABC):
    settings: Settings
    specs: list[FeatureSpec]
    runtime: Runtime  # the collection's extractors, stage state and pools (lookalike.runtime)

    # --- opening: features and calibrated settings ----------------------------------------

    def _open_features(self, settings: Settings) -> None:
        """Settle the features (an existing store keeps its own; a new one takes the
        settings', plus a learned model's) and the calibrated thresholds; make the runtime
        that serves them."""
        self.runtime = Runtime(settings)
        names = self._feature_names(settings)
        meta = self.meta()
        calibrated = {key: float(meta[key]) for key in CALIBRATED_SETTINGS if key in meta}
        self.settings = replace(settings, features=tuple(names), **calibrated)
        self.specs = [self.runtime.spec(name) for name in names]
        self._check_and_record_features(self.specs)

    def _feature_names(self, settings: Settings) -> list[str]:
        stored = self.stored_features()
        for feature in stored:
            if feature.get("source"):
                try:
                    self.runtime.add_model_file(str(feature["source"]))
                except LookalikeError as exc:
                    raise StoreError(f"{self.location}: feature {feature['name']} needs its model file: {exc}") from None
        names = [str(f["name"]) for f in stored] or list(settings.features)
        if settings.model is not None:
            learned = self.runtime.add_model_file(settings.model).name
            if learned not in names:
                if self.counts()["images"]:
                    raise FeatureMismatch(
                        f"{self.location} holds vectors made without model {learned} "
                        f"({', '.join(names)}); index with this model into a new --db"
                    )
                names.append(learned)
        return names

    def _check_and_record_features(self, specs: Sequence[FeatureSpec]) -> None:
        stored = {str(f["name"]): f for f in self.stored_features()}
        for spec in specs:
            old = stored.get(spec.name)
            if old is not None and (old["version"], old["kind"], old["dim"]) != (spec.version, spec.kind, spec.dim):
                raise FeatureMismatch(
                    f"{self.location}: feature {spec.name!r} was stored as version {old['version']} "
                    f"({old['kind']}, {old['dim']}), this lookalike makes version {spec.version}; "
                    "index into a new --db, or remove the old store and re-index"
                )
        self._record_features([spec for spec in specs if spec.name not in stored])

    def calibrate(self, thresholds: dict[str, float]) -> None:
        unknown = set(thresholds) - set(CALIBRATED_SETTINGS)
        if unknown:
            raise ValueError(f"not a calibrated setting: {sorted(unknown)}")
        self.set_meta({key: repr(float(value)) for key, value in thresholds.items()})
        self.settings = replace(self.settings, **thresholds)

    # --- shared helpers -----------------------------------------------------------------------

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def spec(self, name: str) -> FeatureSpec:
        return next(spec for spec in self.specs if spec.name == name)

    def candidate_features(self) -> list[str]:
        """Features whose indexes propose candidates: the copy detectors (hashes,
        embeddings); colour and texture only re-score, unless they are all there is."""
        names = [s.name for s in self.specs if s.family in CANDIDATE_FAMILIES]
        return names or [s.name for s in self.specs]

    def image(self, image_id: int) -> ImageRecord | None:
        return self.images([image_id]).get(image_id)

    def dedup_book(self) -> "DedupBook":
        """The action journal and the marks of `lookalike.curate` (a SQLite catalog's tables)."""
        raise StoreError(f"{self.location}: this store keeps no dedup journal; act on duplicates in an "
                         "embedded store (lookalike migrate --from THIS --to photos.db)")

    # --- video frames (`lookalike.video`; a backend without them indexes no video) -------------

    supports_video = False

    def with_frames(self, ids: Sequence[int]) -> list[int]:
        """`ids` and, for every video's poster among them, its other frames (first)."""
        return list(ids)

    def frame_times(self, ids: Sequence[int]) -> dict[int, tuple[int, float]]:
        """(video id, seconds) of each of `ids` that is a video frame."""
        return {}

    def frame_counts(self, video_ids: Sequence[int]) -> dict[int, int]:
        """How many frames each video has (its poster included)."""
        return {}

    # --- the interface --------------------------------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store lives, for messages."""

    def close(self) -> None:
        """Close the backend (`_close`), then stop the runtime's pools."""
        try:
            self._close()
        finally:
            if hasattr(self, "runtime"):
                self.runtime.close()

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def writing(self) -> AbstractContextManager[None]:
        """Wrap every write: whatever the backend needs to keep concurrent writers apart
        and to make the writes durable and visible when the block ends."""

    @abstractmethod
    def refresh(self) -> None:
        """Catch up with writes made by other processes."""

    @abstractmethod
    def version(self) -> tuple[int, ...]:
        """Changes whenever the stored vectors change (for caches)."""

    @abstractmethod
    def stored_features(self) -> list[dict[str, object]]:
        """name, version, kind, dim, source, vectors (count), index (kind of index)."""

    @abstractmethod
    def _record_features(self, specs: Sequence[FeatureSpec]) -> None: ...

    @abstractmethod
    def meta(self) -> dict[str, str]: ...

    @abstractmethod
    def set_meta(self, values: dict[str, str]) -> None: ...

    @abstractmethod
    def path_state(self, path: str) -> tuple[int, int, int] | None:
        """(image id, mtime_ns, size) recorded for a path."""

    def stored_sha256s(self, sha256s: Sequence[str]) -> set[str]:
        """Which of these content hashes the store holds, in one go where the backend can."""
        return {sha256 for sha256 in set(sha256s) if self.image_id_for_sha256(sha256) is not None}

    def path_states(self, paths: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        """`path_state` of each known path, in one go where the backend can (a server: one round trip)."""
        states = {path: self.path_state(path) for path in paths}
        return {path: state for path, state in states.items() if state is not None}

    @abstractmethod
    def image_id_for_sha256(self, sha256: str) -> int | None: ...

    @abstractmethod
    def images(self, ids: Sequence[int]) -> dict[int, ImageRecord]: ...

    @abstractmethod
    def image_ids(self) -> list[int]:
        """Every image id, ascending."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """images, paths, labels."""

    @abstractmethod
    def images_with_several_paths(self) -> list[int]: ...

    @abstractmethod
    def paths_under(self, root: str) -> list[str]: ...

    @abstractmethod
    def disk_usage(self) -> tuple[int, int]:
        """(metadata bytes, index bytes) on local disk; 0 for what lives on a server."""

    @abstractmethod
    def add_batch(
        self, new: Sequence[NewImage], vectors: dict[str, np.ndarray], links: Sequence[PathLink]
    ) -> tuple[list[int], list[int]]:
        """Store new images with their vectors (row i of each array is new[i]) and record
        the paths of files whose content is already stored, as one unit. Returns (ids of
        the new images, ids of images dropped because their last path now shows other
        content)."""

    @abstractmethod
    def remove_images(self, ids: Sequence[int]) -> list[int]:
        """Remove images with their paths and vectors; returns the ids that were there."""

    @abstractmethod
    def remove_paths(self, paths: Sequence[str]) -> list[int]:
        """Forget paths; returns the ids of images that lost their last path (removed too)."""

    @abstractmethod
    def vectors(self, feature: str, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of `ids`, in that order (the feature's own dtype and width)."""

    @abstractmethod
    def iter_vectors(self, feature: str, batch: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) of a feature, `batch` at a time."""

    @abstractmethod
    def search_vectors(self, feature: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids) of each query's k nearest, best first; no padding."""

    def search_candidates(self, feature: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Like `search_vectors` for a caller that re-scores every id it gets exactly (search's
        first stage): a backend may skip re-ranking an approximate index's candidates."""
        return self.search_vectors(feature, queries, k)

    def search_close(self, feature: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Like `search_vectors` when only close neighbours matter (the duplicate scan over
        a whole collection): a backend may search less of an approximate index and skip
        exact re-ranking, since the caller re-scores what it keeps."""
        return self.search_vectors(feature, queries, k)

    def close_pairs(
        self, feature: str, min_similarity: float, k: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The duplicate scan's candidates: every stored image's k nearest neighbours at
        `min_similarity` and above, as (ids, neighbour ids, similarities) chunks. By
        default each stored vector is a `search_close` query; a backend may do better."""
        for ids, vectors in self.iter_vectors(feature, 4096):
            similarity, hits = self.search_close(feature, vectors, k + 1)
            keep = (hits >= 0) & (hits != ids[:, None]) & (similarity >= min_similarity)
            yield np.broadcast_to(ids[:, None], hits.shape)[keep], hits[keep], similarity[keep]

    @abstractmethod
    def range_search(
        self, feature: str, queries: np.ndarray, min_similarity: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """FAISS-style (lims, similarities, ids): hits of query i are [lims[i]:lims[i+1]]."""

    @abstractmethod
    def index_size(self, feature: str) -> int: ...

"""The Python API; it mirrors the CLI one method per command.

    from lookalike import Collection
    with Collection("photos.db") as photos:
        photos.index(["~/Pictures"], label_from="folder")
        for match in photos.search("query.jpg", k=5):
            print(match.score, match.tier, match.image.path)
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from .dedup import find_duplicates, neighbours
from .indexing import ProgressCallback, index_files, index_folders, list_files, remove
from .query import ImageSource
from .errors import LookalikeError, NotInCollection
from .evaluate import EvaluationReport, evaluate_store
from .records import Comparison, DuplicateGroup, ImageRecord, IndexReport, Match, Neighbours, StoreInfo
from .scan import FileRecord, look_at
from .search import compare as compare_images
from .search import search
from .runtime import Runtime
from .settings import Settings
from .stats import DuplicateStats, SearchStats
from .store import open_store


class Collection:
    """An indexed image collection in a SQLite file (created on first use)."""

    def __init__(self, db: str | Path | None = None, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.store = open_store(settings.with_db(db) if db is not None else settings)

    @property
    def settings(self) -> Settings:
        """The settings in force: features and calibrated thresholds come from the store."""
        return self.store.settings

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Collection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def index(
        self,
        roots: Sequence[str | Path],
        *,
        label_from: str | None = None,
        prune: bool = False,
        shard: tuple[int, int] | None = None,
        on_progress: ProgressCallback | None = None,
        keypoints: bool | None = None,
    ) -> IndexReport:
        """Index every image below `roots`, skipping files indexed before and unchanged.
        `shard=(i, n)`: index only the i-th of n shares (n processes filling one store).
        `keypoints`: also describe new images' local features for `rerank=["keypoints"]`
        (default: when the settings enable that stage)."""
        return index_folders(
            self.store, roots, label_from=label_from, prune=prune, shard=shard, on_progress=on_progress,
            keypoints=keypoints,
        )

    def files_below(self, roots: Sequence[str | Path], shard: tuple[int, int] | None = None) -> int:
        """How many image files `index(roots)` will look at (for a progress bar)."""
        return sum(isinstance(file, FileRecord) for file in list_files(roots, shard))

    def add(
        self,
        files: Sequence[str | Path],
        *,
        label: str | None = None,
        labels: Mapping[str, str | None] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> IndexReport:
        """Add single files (any extension) without rebuilding anything; `labels` and
        `names` map a file's resolved path to its own label and display name."""
        return index_files(self.store, [look_at(f) for f in files], label=label, labels=labels, names=names)

    def get(self, image_id: int) -> ImageRecord:
        record = self.store.image(image_id)
        if record is None:
            raise NotInCollection(image_id)
        return record

    def find(self, sha256: str) -> ImageRecord | None:
        """The stored image with this content (SHA-256 of its file), if there is one."""
        image_id = self.store.image_id_for_sha256(sha256)
        return None if image_id is None else self.store.image(image_id)

    def image_at(self, path: str | Path) -> ImageRecord | None:
        """The stored image a file path belongs to, if the collection records that path."""
        state = self.store.path_state(str(Path(path).resolve()))
        return None if state is None else self.store.image(state[0])

    def __len__(self) -> int:
        """How many images the collection holds."""
        return self.store.counts()["images"]

    def image_ids(self) -> list[int]:
        """Every stored image's id, in id order."""
        return self.store.image_ids()

    def version(self) -> tuple[int, ...]:
        """Changes whenever the collection does: a key for caches of what is derived from it."""
        return self.store.version()

    def index_sizes(self) -> dict[str, int]:
        """Vectors in each feature's index."""
        return {spec.name: self.store.index_size(spec.name) for spec in self.store.specs}

    def page(self, offset: int = 0, limit: int = 100) -> list[ImageRecord]:
        """Images in id order, a page at a time."""
        ids = self.store.image_ids()[offset : offset + limit]
        records = self.store.images(ids)
        return [records[i] for i in ids]

    def remove(self, keys: Sequence[str | Path | int]) -> list[int]:
        """Remove images by id (an int) or by path (a str or Path); returns the ids of the
        images that left the collection."""
        return remove(self.store, keys)

    def search(
        self, image: ImageSource, k: int = 10, min_score: float = 0.0, rerank: Sequence[str] | None = None,
        stats: SearchStats | None = None,
    ) -> list[Match]:
        """Best matches first; `rerank` names second-stage re-rankers (`lookalike.rerank`);
        `stats` is filled with where the time went (`lookalike.stats`)."""
        return search(self.store, image, k=k, min_score=min_score, rerank=rerank, stats=stats)

    def compare(self, first: ImageSource, second: ImageSource) -> Comparison:
        return compare_images(self.settings, self.store.runtime, first, second, self.store.specs, store=self.store)

    def duplicates(self, min_score: float | None = None, stats: DuplicateStats | None = None) -> list[DuplicateGroup]:
        return find_duplicates(self.store, min_score, stats=stats)

    def neighbors(self, k: int = 20, ids: Sequence[int] | None = None) -> Iterator[Neighbours]:
        """Each image's k nearest neighbours (all images, or just `ids`), streamed."""
        return neighbours(self.store, k, ids)

    def evaluate(
        self, folder: str | Path, label_from: str, scratch_db: str | Path | None = None
    ) -> EvaluationReport:
        """Score this collection's features and thresholds on a labelled folder, indexed
        into a scratch store (kept at `scratch_db` if given, so re-runs are incremental)."""
        return evaluate_folder(folder, label_from, self.settings, scratch_db)

    def calibrate(self, report: EvaluationReport, target_precision: float) -> dict[str, float]:
        """Store the lowest thresholds whose verdicts reach `target_precision` on the report's
        labelled pairs; search tiers and compare use them from now on."""
        threshold = report.curve.threshold_for_precision(target_precision)
        if threshold is None:
            raise LookalikeError(f"no threshold reaches precision {target_precision} on these labels")
        chosen = {"min_near_duplicate_score": threshold, "min_same_score": threshold}
        self.store.calibrate(chosen)
        return chosen

    def info(self) -> StoreInfo:
        counts = self.store.counts()
        features = self.store.stored_features()
        db_bytes, index_bytes = self.store.disk_usage()
        return StoreInfo(
            self.store.location, counts["images"], counts["paths"], counts["labels"], features, db_bytes, index_bytes,
            thresholds={"near_duplicate": self.settings.min_near_duplicate_score, "same": self.settings.min_same_score},
        )


def evaluate_folder(folder: str | Path, label_from: str, settings: Settings | None = None,
                    scratch_db: str | Path | None = None) -> EvaluationReport:
    """Score `settings`' features and thresholds (default: a new store's) on a labelled
    folder, indexed into a scratch store (kept at `scratch_db` if given)."""
    with tempfile.TemporaryDirectory(prefix="lookalike-eval-") as scratch:
        db = Path(scratch_db) if scratch_db else Path(scratch) / "evaluate.db"
        with Collection(settings=replace(settings or Settings(), db=db)) as labelled:
            labelled.index([folder], label_from=label_from)
            return evaluate_store(labelled.store)


def compare(first: ImageSource, second: ImageSource, settings: Settings | None = None, *,
            keypoints: bool = True) -> Comparison:
    """Compare two images without a collection; `settings.model` (a model file from
    `lookalike train`) adds its learned feature and, if calibrated, P(same). `keypoints`:
    verify with local features (crops, pastes, the same object from another angle)."""
    settings = settings or Settings()
    runtime = Runtime(settings)
    try:
        specs = [runtime.spec(name) for name in settings.features]
        if settings.model is not None:
            specs.append(runtime.add_model_file(settings.model))
        return compare_images(settings, runtime, first, second, specs, keypoints=keypoints)
    finally:
        runtime.close()

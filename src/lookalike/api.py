"""The Python API; it mirrors the CLI one method per command.

    from lookalike import Collection
    with Collection("photos.db") as photos:
        photos.index(["~/Pictures"], label_from="folder")
        for match in photos.search("query.jpg", k=5):
            print(match.score, match.tier, match.image.path)
"""

from __future__ import annotations

import numbers
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .dedup import find_duplicates, neighbours
from .indexing import ProgressCallback, index_files, index_folders, list_files, remove
from .query import ImageSource
from .errors import LookalikeError, NotInCollection, StoreError
from .catalog.dedup_book import MarkRow
from .curate import DedupPlan, Marks, RunReport, UndoReport, apply_plan, export_marks, honour_marks, import_marks
from .curate import make_plan, undo_last
from .curate.plan import one_file
from .curate.actions import StepHook
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
        """Groups of near-duplicates, largest first, as the marks leave them: a pair marked
        "not duplicates" is never linked, a group all marked "keep" is not shown again (nor
        identical files that are all hard links of one file: they take no extra space)."""
        groups = [group for group in find_duplicates(self.store, min_score, stats=stats) if not one_file(group)]
        marks = self._marks()
        if not marks.distinct and not marks.kept and not marks.set_aside:
            return groups
        threshold = self.settings.min_near_duplicate_score if min_score is None else min_score
        return honour_marks(self.store, groups, marks, threshold)

    def plan_dedup(
        self, keep: str | Sequence[str] | None = None, *, prefer: Sequence[str | Path] = (), action: str | None = None,
        target: str | Path | None = None, min_score: float | None = None, keepers: Mapping[str, str] | None = None,
        groups: Sequence[DuplicateGroup] | None = None,
    ) -> DedupPlan:
        """Each duplicate group's keeper by the `keep` rules ("original,prefer,pixels,quality,
        metadata,older" by default; see `lookalike.curate.keeper`), with its reason, and what
        `action` (move-to `target`, trash, hardlink, symlink, delete) would do to the other
        files. Touches nothing: the dry run. `keepers` maps a group's key to the file a
        person chose to keep instead. `groups`: plan only these (a page of `duplicates`)."""
        groups = self.duplicates(min_score) if groups is None else groups
        return make_plan(self.store, groups, self._marks(), rules=keep, prefer=prefer,
                         action=action, target=target, keepers=keepers)

    def apply(self, plan: DedupPlan, on_event: StepHook | None = None) -> RunReport:
        """Act on a plan: each file checked against the catalog, journaled, acted on, followed
        in the catalog (`lookalike.curate.actions`); `undo` puts it back."""
        return apply_plan(self.store, plan, on_event)

    def undo(self, on_event: StepHook | None = None) -> UndoReport:
        """Undo the newest applied run (deletions cannot be undone)."""
        return undo_last(self.store, on_event)

    def mark_distinct(self, keys: Sequence[str | Path | int], note: str | None = None) -> int:
        """Mark images (ids or paths: a pair, or a whole group) as not duplicates of each
        other; they are never grouped together again. Returns the mark's id."""
        shas = self._shas(keys)
        if len(shas) < 2:
            raise LookalikeError("mark at least two different images as not duplicates (identical files are "
                                 "one image)")
        return self.store.dedup_book().add_mark("distinct", shas, note)

    def mark_keep(self, keys: Sequence[str | Path | int], note: str | None = None) -> int:
        """Mark images (ids or paths) to keep all: no action is proposed on them again."""
        return self.store.dedup_book().add_mark("keep", self._shas(keys), note)

    def unmark(self, mark_id: int) -> bool:
        return self.store.dedup_book().remove_mark(mark_id)

    def marks(self) -> list[MarkRow]:
        return self.store.dedup_book().marks()

    def export_marks(self) -> dict[str, Any]:
        """Every mark as JSON (`import_marks` reads it back, here or in another store)."""
        return export_marks(self.store.dedup_book(), self.store)

    def import_marks(self, data: Mapping[str, Any]) -> int:
        return import_marks(self.store.dedup_book(), dict(data))

    def marks_revision(self) -> tuple[int, int]:
        """Changes whenever a mark is added or removed (with `version`, a key for cached groups)."""
        try:
            return self.store.dedup_book().marks_revision()
        except StoreError:
            return (0, 0)

    def _marks(self) -> Marks:
        try:
            book = self.store.dedup_book()
        except StoreError:  # a store without the dedup tables: nothing was ever marked
            return Marks(frozenset(), ())
        return Marks.read(book)

    def _shas(self, keys: Sequence[str | Path | int]) -> list[str]:
        shas = []
        for key in keys:
            record = self.get(int(key)) if isinstance(key, numbers.Integral) else self.image_at(key)
            if record is None:
                raise NotInCollection(str(key))
            shas.append(record.sha256)
        return sorted(set(shas))

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

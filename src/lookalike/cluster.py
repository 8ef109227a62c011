"""Indexing on a Dask cluster: `lookalike index ROOTS --cluster tcp://SCHEDULER:8786`.

The client lists the files, leaves out those the store already holds unchanged (so a job
that was killed resumes where it stopped), and submits the rest as tasks of a few dozen
files. Each worker opens the collection once (`IndexingWorker`, a Dask worker plugin: the
models load once per worker process, not once per task) and indexes its tasks straight into
the Milvus collection, decode and features included. Image ids come from the content and
writes are upserts, so a task that runs twice (its worker died, Dask ran it again
elsewhere) stores every image once. A task that fails is retried `retries` times; a task
that still fails is reported, the rest of the job goes on, and a re-run does only what is
missing.

`--cluster local:N` starts a cluster of N worker processes on this machine for the job.
Dask is an optional dependency: `pip install 'lookalike[cluster]'`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .errors import LookalikeError, StoreError
from .indexing import index_files, list_files
from .records import IndexReport
from .scan import FileRecord, Unreadable
from .settings import Settings
from .store import Store, open_store

try:  # Dask is optional: without it, `_client` says what to install before a plugin is needed
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - the test extra installs Dask
    WorkerPlugin = object

PLUGIN = "lookalike-indexing"
TASK_FILES = 32  # files per task: small enough to spread, large enough to fill a feature batch
RETRIES = 3  # a failing task's further attempts before the job reports it


class ClusterError(LookalikeError):
    """The cluster cannot be reached, or some tasks failed after every retry."""


@dataclass(frozen=True)
class ClusterJob:
    address: str  # tcp://HOST:PORT of a Dask scheduler, or local:N
    task_files: int = TASK_FILES
    retries: int = RETRIES


def index_on_cluster(
    settings: Settings,
    roots: Sequence[str | Path],
    job: ClusterJob,
    *,
    label_from: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IndexReport:
    """Index every image below `roots` on the cluster's workers into the Milvus store of
    `settings`; see the module docstring. Calls `on_progress(files)` as tasks finish."""
    require_shared_store(settings.store)
    started = time.perf_counter()
    files = list_files([Path(root).expanduser() for root in roots])
    report = IndexReport(skipped=[(file.path, file.reason) for file in files if isinstance(file, Unreadable)])
    records = [file for file in files if isinstance(file, FileRecord)]
    with open_store(settings) as store:  # records the features before any worker writes
        todo = _not_indexed(store, records)
    report.unchanged = len(records) - len(todo)
    if on_progress and report.unchanged:
        on_progress(report.unchanged)
    tasks = [todo[start : start + job.task_files] for start in range(0, len(todo), job.task_files)]
    failures: list[str] = []
    if tasks:
        with _client(job.address) as client:
            failures = _run(client, settings, tasks, label_from, job.retries, report, on_progress)
    report.seconds = time.perf_counter() - started
    if failures:
        raise ClusterError(f"{len(failures)} of {len(tasks)} tasks failed after {job.retries} retries "
                           f"(first: {failures[0]}); {report.indexed} images indexed: run the command again "
                           "to do only what is missing")
    return report


def require_shared_store(store: str | None) -> None:
    """Workers on other machines write straight into the store: only a Milvus server takes that."""
    if not (store or "").startswith("milvus://"):
        raise StoreError("--cluster writes from every worker into one store: use --store milvus://HOST:PORT/NAME")


def _not_indexed(store: Store, records: Sequence[FileRecord], chunk: int = 1000) -> list[FileRecord]:
    """The files the store does not hold with this size and modification time."""
    todo = []
    for start in range(0, len(records), chunk):
        part = records[start : start + chunk]
        states = store.path_states([file.path for file in part])
        todo += [file for file in part if states.get(file.path, (None, None, None))[1:] != (file.mtime_ns, file.size)]
    return todo


def _run(client: Any, settings: Settings, tasks: list[list[FileRecord]], label_from: str | None, retries: int,
         report: IndexReport, on_progress: Callable[[int], None] | None) -> list[str]:
    from distributed import as_completed

    client.register_plugin(IndexingWorker(settings), name=PLUGIN)
    futures = {client.submit(index_task, task, label_from, retries=retries, pure=False): len(task) for task in tasks}
    failures = []
    for future in as_completed(futures):
        try:
            part = future.result()
        except Exception as exc:  # a task's own error, or KilledWorker: reported, the job goes on
            failures.append(f"{type(exc).__name__}: {exc}")
        else:
            _add(report, part)
        if on_progress:
            on_progress(futures[future])
    return failures


def _add(report: IndexReport, part: IndexReport) -> None:
    report.indexed += part.indexed
    report.unchanged += part.unchanged
    report.linked += part.linked
    report.skipped += part.skipped


@contextmanager
def _client(address: str) -> Iterator[Any]:
    """A Dask client of the scheduler at `address`, or of a cluster made for the job (local:N)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("indexing on a cluster needs Dask: pip install 'lookalike[cluster]'") from None
    if address.startswith("local:"):
        workers = address.removeprefix("local:")
        if not workers.isdigit() or int(workers) < 1:
            raise ClusterError(f"{address}: use local:N with N >= 1 worker processes")
        with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout="30s")
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        yield client


class IndexingWorker(WorkerPlugin):
    """A Dask worker plugin: the worker's collection, opened once when the worker starts
    (or joins later) and closed when it stops, so tasks share its loaded models."""

    idempotent = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.collection: Any = None

    def setup(self, worker: Any) -> None:
        from .api import Collection

        self.collection = Collection(settings=self.settings)

    def teardown(self, worker: Any) -> None:
        if self.collection is not None:
            self.collection.close()


def index_task(files: list[FileRecord], label_from: str | None) -> IndexReport:
    """One task on a worker: index `files` with the worker's collection."""
    from distributed import get_worker

    plugin = get_worker().plugins[PLUGIN]
    return index_files(plugin.collection.store, files, label_from=label_from)

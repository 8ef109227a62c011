"""The speed benchmark's measurements that run in a child process of their own (so that
each peak RSS is that method's alone): the process machinery and the tasks.

    python -m bench.speed_tasks MODULE:FUNCTION JSON_ARGUMENTS [--tree]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
import types
from importlib import import_module
from pathlib import Path
from typing import Any, Iterator

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODEL = "efficientnet_lite0"
EMBEDDING = "effnet_lite0"
CHILD_MARKER = "@@speed-result@@"
MB = 1024 * 1024
# imagededup's default threshold; also where lookalike's pHash calls a pair a copy.
IMAGEDEDUP_MAX_DISTANCE = 10


# ================================================================================================
# Child processes
# ================================================================================================


def current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


def own_peak_rss_mb() -> float:
    """This process's peak RSS since it started. Not getrusage's ru_maxrss: Linux carries
    that over from the parent across fork and exec, so every child would report at least
    the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the best there is


class TreeMemory:
    """Peak RSS of this process plus its children (imagededup forks a worker pool),
    sampled every 20 ms; only used where children exist, to keep timings undisturbed."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.02):
            total = self._process.memory_info().rss
            for child in self._process.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / MB


def child_main(target: str, arguments: str, tree: bool = False) -> None:
    """Run one task and print its result (plus the process's peak RSS) as JSON. `tree`:
    count the task's own child processes (imagededup forks a worker pool) into the peak."""
    memory = TreeMemory() if tree else None
    load = os.getloadavg()[0]
    result = _task(target)(**json.loads(arguments))
    result["load_average"] = round(load, 2)  # 1-minute, when the task started
    result["peak_rss_mb"] = round(max(own_peak_rss_mb(), memory.stop() if memory else 0.0), 1)
    print(CHILD_MARKER + json.dumps(result), flush=True)


def _task(target: str) -> Any:
    """"module:function", or the name of a task_ function of this module."""
    module, _, name = target.rpartition(":")
    return getattr(import_module(module or __name__), name if ":" in target else f"task_{name}")


def run_child(
    task: str, timeout: float, memory_limit_gb: float | None = None, tree: bool = False, **arguments: Any
) -> dict[str, Any]:
    """Run a task (see `_task`) with `arguments` in a fresh interpreter; {"error": ...} if
    it failed, timed out or ran out of the address space it was given."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    limit = None if memory_limit_gb is None else int(memory_limit_gb * 1024**3)
    command = [sys.executable, "-m", "bench.speed_tasks", task, json.dumps(arguments, default=str)]
    command += ["--tree"] if tree else []
    started = time.perf_counter()
    # No preexec_fn: forking a parent that runs gRPC (pymilvus) threads breaks the child.
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        if limit and hasattr(resource, "prlimit"):
            resource.prlimit(child.pid, resource.RLIMIT_AS, (limit, limit))
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in stdout.splitlines() if line.startswith(CHILD_MARKER)]
    if child.returncode != 0 or not lines:
        errors = [line for line in stderr.strip().splitlines() if "Epoll1Poller" not in line]
        last = (errors or [f"exit code {child.returncode}"])[-1].strip()
        if "bad_alloc" in last:  # a C++ library (FAISS) ran out of memory and aborted the process
            last = "out of memory in FAISS (std::bad_alloc)"
        return {"error": last[:300], "wall_seconds": round(time.perf_counter() - started, 1)}
    return json.loads(lines[-1][len(CHILD_MARKER):])


# ================================================================================================
# Indexing throughput (child tasks)
# ================================================================================================


def task_index_lookalike(folder: str, db: str, features: list[str], warmup: str) -> dict[str, Any]:
    """Index `folder` end to end through the public API into a new store at `db`. One
    image is indexed into a throwaway store first, so the one-off model load is reported
    apart from the steady rate."""
    import tempfile

    from lookalike import Collection, Settings

    settings = Settings(db=Path(db), features=tuple(features))
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        with Collection(settings=settings.with_db(Path(scratch) / "warmup.db")) as collection:
            collection.add([warmup])
        warmup_seconds = time.perf_counter() - started
    rss_before = current_rss_mb()
    with Collection(settings=settings) as collection:
        started, cpu = time.perf_counter(), time.process_time()
        report = collection.index([folder])
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        info = collection.info()
    files = report.indexed + report.linked + len(report.skipped)
    return {
        "images": files,
        "stored": report.indexed,
        "skipped": len(report.skipped),
        "seconds": round(seconds, 3),
        "images_per_s": round(files / seconds, 2),
        "cpu_ms_per_image": round(1000 * cpu / max(files, 1), 2),
        "warmup_seconds": round(warmup_seconds, 2),
        "rss_before_mb": round(rss_before, 1),
        "catalog_bytes": info.db_bytes,
        "index_bytes": info.index_bytes,
        "bytes_per_image": round((info.db_bytes + info.index_bytes) / max(report.indexed, 1)),
    }


def task_imagehash(folder: str, hashes: list[str]) -> dict[str, Any]:
    """ImageHash the way people call it: open with PIL, then imagehash.phash(image)
    (and the other hashes of the same opened image, when asked)."""
    import imagehash
    from PIL import Image

    functions = [getattr(imagehash, name) for name in hashes]
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".png"))
    with Image.open(files[0]) as image:  # warm-up: imports and first-call setup
        [function(image) for function in functions]
    rss_before = current_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        with Image.open(path) as image:
            for function in functions:
                function(image)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "images": len(files),
        "seconds": round(seconds, 3),
        "images_per_s": round(len(files) / seconds, 2),
        "cpu_ms_per_image": round(1000 * cpu / len(files), 2),
        "rss_before_mb": round(rss_before, 1),
    }


def task_onnx_batch(seconds: float, batch: int = 16) -> dict[str, Any]:
    """The CNN alone: lookalike's onnxruntime session on ready 224x224 tensors, no decoding."""
    from lookalike.models import get_model_spec, load_session

    spec = get_model_spec(MODEL)
    session = load_session(MODEL)
    pixels = np.random.default_rng(0).uniform(-1, 1, (batch, 3, spec.image_size, spec.image_size)).astype(np.float32)
    for _ in range(2):
        session.run(["embedding"], {"pixels": pixels})
    runs, started, cpu = 0, time.perf_counter(), time.process_time()
    while runs < 3 or time.perf_counter() - started < seconds:
        session.run(["embedding"], {"pixels": pixels})
        runs += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "batch": batch,
        "batches": runs,
        "seconds": round(elapsed, 3),
        "images_per_s": round(runs * batch / elapsed, 2),
        "cpu_ms_per_image": round(1000 * cpu / (runs * batch), 2),
    }



# ================================================================================================
# Query latency (child task)
# ================================================================================================


class StageClock:
    """Wall time spent in named functions of a module, summed over calls, by wrapping them;
    counts the calls and keeps each stage's last result and the summed length of its results."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.last_result: dict[str, Any] = {}
        self.total_length: dict[str, int] = {}

    def wrap(self, module: types.ModuleType, name: str, stage: str) -> None:
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
                self.calls[stage] = self.calls.get(stage, 0) + 1
            self.last_result[stage] = result
            if hasattr(result, "__len__"):
                self.total_length[stage] = self.total_length.get(stage, 0) + len(result)
            return result

        setattr(module, name, timed)

    def reset(self) -> None:
        self.seconds, self.calls = {}, {}


def task_query_latency(db: str, queries: list[list[str]], strangers: list[str] | None = None, k: int = 10,
                       in_store_queries: int = 200, rerank: list[str] | None = None,
                       keypoint_cache: str | None = None, recall: bool = True) -> dict[str, Any]:
    """Search every query (timed: total and per stage; how many turned the CNN), then
    the same for `strangers` (photos with no copy stored: search never settles upright for
    them), then (`recall`) the embedding index's recall@10 against exact inner-product
    search. With `rerank`, searches run those stages; for the keypoint stage the stored
    photos are described first into `keypoint_cache`, as `index --keypoints` does."""
    if keypoint_cache is not None:  # before lookalike reads it
        os.environ["LOOKALIKE_CACHE_DIR"] = keypoint_cache
    import lookalike.search as search_module
    from lookalike import Collection

    clock = StageClock()
    clock.wrap(search_module, "load_query", "decode")
    clock.wrap(search_module, "query_features", "features")
    clock.wrap(search_module, "complete_features", "features")
    clock.wrap(search_module, "_candidates", "index")
    started = time.perf_counter()
    collection = Collection(db)
    open_seconds = time.perf_counter() - started
    described = _describe_stored_photos(collection) if rerank and "keypoints" in rerank else None
    for query, _ in queries[:3]:  # warm-up: model load, first touches of the indexes
        collection.search(query, k=k, rerank=rerank)
    rss_before = current_rss_mb()
    timings, found, embeddings, turned = [], 0, [], 0
    for query, original in queries:
        clock.reset()
        matches = _timed_search(collection, query, k, clock, timings, rerank)
        turned += clock.calls.get("features", 0) > 1
        found += any(original in match.image.paths for match in matches)
        embeddings.append(clock.last_result["features"].vectors[EMBEDDING][0])
    stranger_timings, stranger_turned = [], 0
    for query in strangers or []:
        clock.reset()
        _timed_search(collection, query, k, clock, stranger_timings, rerank)
        stranger_turned += clock.calls.get("features", 0) > 1
    serving_rss = own_peak_rss_mb()  # open, model, indexes, queries: what a server holds
    store = collection.store
    recall = embedding_recall(store, np.stack(embeddings), in_store_queries, k) if recall else {}
    index = store.indexes[EMBEDDING]
    result = {
        "size": len(index),
        "queries": len(queries),
        "open_seconds": round(open_seconds, 2),
        "rss_before_mb": round(rss_before, 1),
        "serving_peak_rss_mb": round(serving_rss, 1),
        "factory": index.factory,
        "factories": {name: other.factory for name, other in store.indexes.items()},
        "nprobe": _nprobe(index.index),
        "planted_found": round(found / len(queries), 3),
        "turned_share": round(turned / len(queries), 3),
        "rerank": rerank or [],
        **({"keypoints_described": described} if described is not None else {}),
        **recall,
        "ms": _percentiles(timings),
    }
    if stranger_timings:
        result["strangers"] = {"queries": len(stranger_timings), "turned_share": round(stranger_turned / len(stranger_timings), 3),
                               "ms": _percentiles(stranger_timings)}
    collection.close()
    return result


def _timed_search(collection: Any, query: str, k: int, clock: "StageClock", timings: list[dict[str, float]],
                  rerank: list[str] | None = None) -> Any:
    started = time.perf_counter()
    matches = collection.search(query, k=k, rerank=rerank)
    timings.append({"total": time.perf_counter() - started, **clock.seconds})
    return matches


def _describe_stored_photos(collection: Any) -> dict[str, Any]:
    """Keypoints of every stored image that has a file (the synthetic ones have none)."""
    from lookalike.rerank.keypoints import precompute

    store = collection.store
    ids = [row[0] for row in store.catalog.db.execute(
        "SELECT DISTINCT image_id FROM paths WHERE path NOT LIKE '/synthetic/%'").fetchall()]
    started = time.perf_counter()
    precompute(store, ids)
    return {"images": len(ids), "seconds": round(time.perf_counter() - started, 1)}


def _percentiles(timings: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    stages = ["total", "decode", "features", "index"]
    table = {stage: np.array([t.get(stage, 0.0) for t in timings]) * 1000 for stage in stages}
    table["rescore"] = table["total"] - table["decode"] - table["features"] - table["index"]
    return {
        stage: {"p50": round(float(np.percentile(v, 50)), 2), "p99": round(float(np.percentile(v, 99)), 2),
                "mean": round(float(v.mean()), 2)}
        for stage, v in table.items()
    }


def _nprobe(index: Any) -> int | None:
    import faiss

    try:
        return int(faiss.extract_index_ivf(index).nprobe)
    except RuntimeError:
        return None


def embedding_recall(store: Any, queries: np.ndarray, in_store: int, k: int) -> dict[str, Any]:
    """recall@k of the embedding index (as the store searches it: an approximate index's
    candidates re-ranked exactly) for the real query images and for `in_store` stored
    vectors used as queries, against exact search over the catalog's vectors; the share of
    the exact top k among the candidates search's first stage takes from the index for a
    k-result search (it re-scores them all exactly, so that share bounds what it can find);
    and the index's time per single query vector."""
    from lookalike.search import candidates_per_index

    ids = np.asarray(store.image_ids(), dtype=np.int64)
    sample = np.random.default_rng(0).choice(ids, size=min(in_store, len(ids)), replace=False)
    stored_queries = store.vectors(EMBEDDING, sample.tolist())
    everything = np.concatenate([queries, stored_queries]).astype(np.float32)
    exact = exact_top_k(store.iter_vectors(EMBEDDING, 50_000), everything, k)
    single, approximate, candidates = [], [], []
    for vector in everything:
        started = time.perf_counter()
        _, found = store.search_vectors(EMBEDDING, vector[None, :], k)
        single.append((time.perf_counter() - started) * 1000)
        approximate.append(found[0].tolist())
        _, proposed = store.search_candidates(EMBEDDING, vector[None, :], candidates_per_index(store.spec(EMBEDDING), k))
        candidates.append(proposed[0].tolist())
    overlap = np.array([len(set(a) & set(e)) / k for a, e in zip(approximate, exact.tolist())])
    covered = np.array([len(set(c) & set(e)) / k for c, e in zip(candidates, exact.tolist())])
    return {
        "recall_at_10_query_images": round(float(overlap[: len(queries)].mean()), 4),
        "recall_at_10_stored_vectors": round(float(overlap[len(queries):].mean()), 4),
        "candidate_recall_query_images": round(float(covered[: len(queries)].mean()), 4),
        "candidate_recall_stored_vectors": round(float(covered[len(queries):].mean()), 4),
        "embedding_index_ms": {"p50": round(float(np.percentile(single, 50)), 3),
                               "p99": round(float(np.percentile(single, 99)), 3)},
    }


def exact_top_k(chunks: Iterator[tuple[np.ndarray, np.ndarray]], queries: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k largest inner products per query, streaming over (ids, vectors) chunks."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    for ids, vectors in chunks:
        scores = np.concatenate([best_scores, queries @ vectors.T], axis=1)
        candidates = np.concatenate([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))], axis=1)
        keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_ids = np.take_along_axis(candidates, keep, axis=1)
    return best_ids


# ================================================================================================
# Duplicates (child tasks)
# ================================================================================================


def task_lookalike_duplicates(db: str) -> dict[str, Any]:
    """`Collection.duplicates()`, timed, with the candidate-pair stage (index searches)
    and the exact re-scoring timed and counted on their own."""
    import lookalike.dedup as dedup
    from lookalike import Collection

    clock = StageClock()
    clock.wrap(dedup, "score_pairs", "scoring")
    candidates = {"pairs": 0, "seconds": 0.0}
    scan = dedup._candidate_pairs

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        chunks = scan(*args, **kwargs)
        while True:
            started = time.perf_counter()
            chunk = next(chunks, None)
            candidates["seconds"] += time.perf_counter() - started
            if chunk is None:
                return
            candidates["pairs"] += len(chunk[0])
            yield chunk

    dedup._candidate_pairs = counted
    collection = Collection(db)
    size = len(collection.store.image_ids())
    rss_before = current_rss_mb()
    started = time.perf_counter()
    result: dict[str, Any] = {"size": size, "rss_before_mb": round(rss_before, 1)}
    try:
        groups = collection.duplicates()
        result.update(groups=len(groups), grouped_images=sum(len(g.images) for g in groups))
    except MemoryError:
        result["error"] = "MemoryError"
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["candidate_pairs"] = candidates["pairs"]
    result["rescored_pairs"] = clock.total_length.get("scoring")
    result["stage_seconds"] = {"candidates": round(candidates["seconds"], 2),
                               "scoring": round(clock.seconds.get("scoring", 0.0), 2)}
    collection.close()
    return result


def load_imagededup_phash() -> Any:
    """imagededup's PHash without torch: its CNN modules are replaced by empty stand-ins
    (only the hashing methods are used here)."""
    for name, attribute in (("imagededup.methods.cnn", "CNN"), ("imagededup.utils.models", "CustomModel")):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            setattr(stub, attribute, None)
            sys.modules[name] = stub
    from imagededup.methods import PHash

    return PHash


def task_imagededup(db: str, size: int) -> dict[str, Any]:
    """imagededup's find_duplicates on the pHashes of the first `size` stored images,
    given as its 16-character hex strings, with its default search (cython brute force
    over a process pool)."""
    import warnings

    from lookalike.catalog import Catalog
    from lookalike.features.registry import get_spec

    catalog = Catalog(db)
    ids, vectors = next(catalog.iter_vectors(get_spec("phash"), size))  # the first `size` images
    catalog.close()
    encodings = {str(i): bytes(v).hex() for i, v in zip(ids.tolist(), vectors)}
    phash = load_imagededup_phash()(verbose=False)
    rss_before = current_rss_mb()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = phash.find_duplicates(encoding_map=encodings, max_distance_threshold=IMAGEDEDUP_MAX_DISTANCE)
    seconds = time.perf_counter() - started
    return {
        "size": len(encodings),
        "seconds": round(seconds, 2),
        "pairs": sum(len(v) for v in found.values()) // 2,
        "images_with_duplicates": sum(1 for v in found.values() if v),
        "rss_before_mb": round(rss_before, 1),
    }



if __name__ == "__main__":
    child_main(sys.argv[1], sys.argv[2], tree="--tree" in sys.argv[3:])

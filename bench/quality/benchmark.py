"""Retrieval quality of lookalike and its peers on real images, as a Markdown section.

    python -m bench.quality [--quick] [--data bench-data] [--docs docs]

Every method (bench.peers) runs on the same files (bench.data) in the same run:

1. Near-duplicates: every edited copy of a source photo (turns, flips, crops down to 30% of
   the area anywhere, crops pasted into other photos, compression, scaling, colour,
   overlays, combinations) queries a gallery of all the source photos, the same-object
   pairs and >= 1,000 distractors. Per-edit recall@1, mAP, and whether one global score
   threshold separates copies from non-copies (best F1 over the scored results, next to
   the F1 at the method's own threshold).
2. Same object, another view: each image of OpenCV's sample pairs (and scikit-image's
   stereo motorcycle) queries the same gallery for its partner: recall@1/5/10.
3. Labelled similarity: Fashion-MNIST test split, queries spread over it, hits = same class:
   mAP@10 and precision@10.
4. Texture: patches cut from uniform-texture photos, every third one turned; hits = the
   other patches of the same texture: mAP.
5. Approximate-index recall: Annoy, and the FAISS index lookalike switches to for large
   collections, against exact search over the same embeddings.

6. Targets for local features (crops keeping half the picture, other viewpoints, no loss
   elsewhere): met or not, for the default search and `--rerank keypoints`.

lookalike runs as shipped, with `--rerank keypoints` and with its hashes alone. Metrics come
from `lookalike.ranking_metrics`, so they are computed the way `lookalike` computes them. Raw
numbers go to DATA/results/quality.json; `bench.quality.report` and `bench.quality.plots`
turn them into the Markdown section and the plots under DOCS/img.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from ..arguments import benchmark_parser
from .. import data
from ..peers import Encodings, Method, Ranking, all_methods, peer_encoders
from ..results import write_json
from .metrics import (fashion_metrics, index_recall, near_duplicate_metrics, same_object_metrics,
                      texture_metrics)
from .names import KEYPOINTS, OURS, TIE
from .plots import quality_plots
from .report import quality_section
from .suites import (FASHION_DEPTH, NEAR_DUPLICATE_DEPTH, SAME_OBJECT_DEPTH, Suite, Task, fashion_suite,
                     photo_suite, texture_suite)

HALF_CROP_GOAL = 0.95  # recall@1 on crops keeping half the picture, anywhere
VIEWPOINT_GOAL = 0.8  # recall@1 on the same object photographed from elsewhere

Rankings = dict[str, list[Ranking]]  # method name -> one ranking per query


# --- running the methods -----------------------------------------------------------------------


def run_suite(suite: Suite, methods: list[Method]) -> dict[str, Rankings]:
    """task name -> method name -> rankings (own image dropped, cut to the task's depth)."""
    results: dict[str, Rankings] = {task.name: {} for task in suite.tasks}
    for method in methods:
        started = time.perf_counter()
        method.index(suite.gallery)
        indexed = time.perf_counter()
        for task in suite.tasks:
            raw = method.search(task.queries, task.depth + 1)
            results[task.name][method.name] = [
                [(pos, score) for pos, score in ranking if pos != own][: task.depth]
                for ranking, own in zip(raw, task.itself)
            ]
        method.close()
        log(f"quality: {suite.name}: {method.name}: index {indexed - started:.0f} s, "
            f"search {time.perf_counter() - indexed:.0f} s")
    return results


def lookalike_ivf_rankings(encodings: Encodings, task: Task, gallery: list[Path]) -> tuple[list[Ranking], str]:
    """The same embeddings in the FAISS index lookalike builds above `max_exact_vectors`
    (IVF + 8-bit scalar quantisation, sized for the gallery), forced on here. Returns the
    rankings and a description of the index."""
    import faiss

    from lookalike.features.registry import get_spec
    from lookalike.vectors import VectorIndex, choose_factory

    spec = get_spec("effnet_lite0")
    vectors = encodings.matrix("cnn", gallery).astype(np.float32)
    index = VectorIndex(spec, choose_factory(spec, len(gallery), max_exact=0))
    index.train(vectors)
    index.add(np.arange(len(gallery)), vectors)
    similarities, ids = index.search(encodings.matrix("cnn", task.queries).astype(np.float32), task.depth + 1)
    rankings = [
        [(int(i), float(s)) for i, s in zip(row_ids, row_sims) if i >= 0 and i != own][: task.depth]
        for row_ids, row_sims, own in zip(ids, similarities, task.itself)
    ]
    return rankings, f"{index.factory}, nprobe {faiss.extract_index_ivf(index.index).nprobe}"


# --- the whole run -----------------------------------------------------------------------------


def run(data_dir: Path, docs_dir: Path, quick: bool = False) -> str:
    """Measure everything, write plots and raw results, return the Markdown section."""
    started = time.perf_counter()
    dataset = data.prepare(Path(data_dir), quick=quick)
    log(f"quality: data ready in {time.perf_counter() - started:.0f} s")
    encodings = Encodings(peer_encoders())
    with tempfile.TemporaryDirectory(prefix="lookalike-bench-") as scratch:
        results = measure(dataset, encodings, Path(scratch))
    results["seconds"] = time.perf_counter() - started
    write_json(results, Path(data_dir) / "results" / "quality.json")
    return quality_section(results, quality_plots(results, Path(docs_dir)))


def measure(dataset: data.Dataset, encodings: Encodings, scratch: Path) -> dict:
    methods = all_methods(scratch, encodings)
    results: dict = {
        "quick": dataset.size == data.QUICK,
        "size": asdict(dataset.size) | counts(dataset),
        "methods": [{"name": m.name, "description": m.description, "threshold": m.threshold} for m in methods],
        "depths": {"near_duplicates": NEAR_DUPLICATE_DEPTH, "same_object": SAME_OBJECT_DEPTH, "fashion": FASHION_DEPTH},
    }
    results["index_recall"] = {}
    for suite in (photo_suite(dataset), fashion_suite(dataset), texture_suite(dataset)):
        started = time.perf_counter()
        encodings.compute(suite.files)
        log(f"quality: {suite.name}: peer encodings in {time.perf_counter() - started:.0f} s")
        rankings = run_suite(suite, methods)
        results.update(suite_metrics(suite, rankings, methods))
        if suite.name != "texture":  # patches too few for an index comparison
            results["index_recall"][suite.name] = index_recall_rows(suite, rankings, encodings)
    results["targets"] = targets(results)
    return results


def targets(results: dict) -> list[dict]:
    """The goals for local features, per shipped lookalike mode: value, wording, met or not."""
    near, modes = results["near_duplicates"], (OURS, KEYPOINTS)
    half = [edit for edit in data.HALF_CROPS if edit in results["size"]["edits"]]
    rows = []
    if half:
        rows.append({
            "name": f"crops keeping half the picture, anywhere ({', '.join(half)})",
            "goal": f"recall@1 >= {HALF_CROP_GOAL}",
            "results": {mode: goal_result(float(np.mean([near[mode]["recall_at_1_by_edit"][e] for e in half])),
                                          HALF_CROP_GOAL) for mode in modes},
        })
    rows.append({
        "name": "same object, another viewpoint (every pair)",
        "goal": f"recall@1 >= {VIEWPOINT_GOAL}",
        "results": {mode: goal_result(results["same_object"][mode]["recall_at"]["1"], VIEWPOINT_GOAL)
                    for mode in modes},
    })
    other = [edit for edit in results["size"]["edits"] if edit not in data.LOCAL_EDITS]
    changes = {edit: near[KEYPOINTS]["recall_at_1_by_edit"][edit] - near[OURS]["recall_at_1_by_edit"][edit]
               for edit in other}
    worst = min(changes, key=changes.__getitem__)
    losses = [f"{edit} {change:+.3f}" for edit, change in changes.items() if change < -TIE]
    rows.append({
        "name": f"no loss on the {len(other)} other edit kinds (recall@1 against the default search)",
        "goal": f"no edit lower by more than {TIE}",
        "results": {
            OURS: {"value": None, "text": "the reference", "met": None},
            KEYPOINTS: {"value": changes[worst], "met": not losses,
                        "text": "lower on " + ", ".join(losses) if losses else
                        f"none lower (worst change {changes[worst]:+.3f}, {worst})"},
        },
    })
    return rows


def goal_result(value: float, goal: float) -> dict:
    return {"value": value, "text": f"{value:.3f}", "met": value >= goal}


# task name -> (task, its rankings by one method, that method) -> that method's metrics
METRICS: dict[str, Callable[[Task, list[Ranking], Method], dict]] = {
    "near_duplicates": lambda task, rankings, method: near_duplicate_metrics(task, rankings, method.threshold),
    "same_object": lambda task, rankings, method: same_object_metrics(task, rankings),
    "fashion": lambda task, rankings, method: fashion_metrics(task, rankings),
    "texture": lambda task, rankings, method: texture_metrics(task, rankings),
}


def suite_metrics(suite: Suite, rankings: dict[str, Rankings], methods: list[Method]) -> dict:
    return {
        task.name: {m.name: METRICS[task.name](task, rankings[task.name][m.name], m) for m in methods}
        for task in suite.tasks
    }


def index_recall_rows(suite: Suite, rankings: dict[str, Rankings], encodings: Encodings) -> dict:
    task = suite.tasks[0]
    exact = rankings[task.name]["CNN-exact"]
    k = min(10, task.depth)
    rows = {"Annoy, 10 trees": index_recall(exact, rankings[task.name]["CNN-Annoy"], k)}
    if len(suite.gallery) >= 5000:  # an IVF index on fewer vectors is not what lookalike would build
        ivf, described = lookalike_ivf_rankings(encodings, task, suite.gallery)
        rows[f"lookalike's large-collection index ({described})"] = index_recall(exact, ivf, k)
    return {"gallery": len(suite.gallery), "queries": len(task.queries), "k": k, "rows": rows}


def counts(dataset: data.Dataset) -> dict[str, int]:
    return {
        "n_sources": len(dataset.sources),
        "n_near_duplicate_queries": len(dataset.queries),
        "n_distractors": len(dataset.distractors),
        "n_pairs": len(dataset.pairs),
        "n_fashion": len(dataset.fashion),
        "n_fashion_queries": len(fashion_suite(dataset).tasks[0].queries),
        "n_texture_patches": len(dataset.texture),
    }


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.quality", "lookalike vs its peers: retrieval quality")
    args = parser.parse_args(argv)
    print(run(args.data, args.docs, quick=args.quick))

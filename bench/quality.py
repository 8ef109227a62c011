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
from `lookalike.evaluation`, so they are computed the way `lookalike` computes them. Raw
numbers go to DATA/results/quality.json; `bench.quality_report` turns them into the Markdown
section and the plots under DOCS/img.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lookalike.evaluation import ThresholdCurve, ranking_scores, threshold_curve

from . import data
from .peers import Encodings, Method, Ranking, all_methods, peer_encoders
from .quality_report import KEYPOINTS, OURS, TIE, quality_plots, quality_section

SHUFFLE_SEED = 7
NEAR_DUPLICATE_DEPTH = 20  # results kept per near-duplicate query: mAP counts later ranks as misses
SAME_OBJECT_DEPTH = 10
FASHION_DEPTH = 10
HALF_CROP_GOAL = 0.95  # recall@1 on crops keeping half the picture, anywhere
VIEWPOINT_GOAL = 0.8  # recall@1 on the same object photographed from elsewhere

Rankings = dict[str, list[Ranking]]  # method name -> one ranking per query


# --- what is measured --------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """Queries against a gallery, and which gallery positions are hits for each."""

    name: str
    queries: list[Path]
    relevant: list[frozenset[int]]
    groups: list[str]  # per query: its edit, pair or texture, for breakdowns
    itself: list[int | None]  # the query's own gallery position, dropped from its ranking
    depth: int


@dataclass(frozen=True)
class Suite:
    """One gallery, indexed once per method, and the tasks that query it."""

    name: str
    gallery: list[Path]
    tasks: list[Task]

    @property
    def files(self) -> list[Path]:
        return self.gallery + [query for task in self.tasks for query in task.queries]


def shuffled(paths: Sequence[Path]) -> list[Path]:
    """A fixed shuffle: methods that tie (equal Hamming distances) keep gallery order, which
    must not favour the right answer."""
    result = list(paths)
    random.Random(SHUFFLE_SEED).shuffle(result)
    return result


def photo_suite(dataset: data.Dataset) -> Suite:
    pair_files = [path for pair in dataset.pairs for path in pair]
    gallery = shuffled(dataset.sources + pair_files + dataset.distractors)
    position = {path: i for i, path in enumerate(gallery)}
    near_duplicates = Task(
        "near_duplicates",
        queries=[copy.path for copy in dataset.queries],
        relevant=[frozenset({position[copy.source]}) for copy in dataset.queries],
        groups=[copy.edit for copy in dataset.queries],
        itself=[None] * len(dataset.queries),
        depth=NEAR_DUPLICATE_DEPTH,
    )
    ordered = [(first, second) for first, second in dataset.pairs] + [(b, a) for a, b in dataset.pairs]
    same_object = Task(
        "same_object",
        queries=[query for query, _ in ordered],
        relevant=[frozenset({position[partner]}) for _, partner in ordered],
        groups=[query.stem.rsplit("-", 1)[0] for query, _ in ordered],
        itself=[position[query] for query, _ in ordered],
        depth=SAME_OBJECT_DEPTH,
    )
    return Suite("photos", gallery, [near_duplicates, same_object])


def labelled_task(name: str, gallery: list[Path], label_of: dict[Path, str], queries: list[Path],
                  depth: int, group_of: Callable[[Path], str]) -> Task:
    """Queries taken from the gallery itself; hits = the other gallery items with its label."""
    position = {path: i for i, path in enumerate(gallery)}
    by_label: dict[str, set[int]] = {}
    for path in gallery:
        by_label.setdefault(label_of[path], set()).add(position[path])
    return Task(
        name,
        queries=queries,
        relevant=[frozenset(by_label[label_of[query]] - {position[query]}) for query in queries],
        groups=[group_of(query) for query in queries],
        itself=[position[query] for query in queries],
        depth=depth,
    )


def fashion_suite(dataset: data.Dataset) -> Suite:
    label_of = {item.path: item.label for item in dataset.fashion}
    queries = data.pick_evenly([item.path for item in dataset.fashion], dataset.size.fashion_queries)
    gallery = shuffled(list(label_of))
    task = labelled_task("fashion", gallery, label_of, queries, FASHION_DEPTH, lambda path: label_of[path])
    return Suite("fashion", gallery, [task])


def texture_suite(dataset: data.Dataset) -> Suite:
    label_of = {patch.path: patch.texture for patch in dataset.texture}
    turned = {patch.path for patch in dataset.texture if patch.angle}
    gallery = shuffled(list(label_of))
    task = labelled_task("texture", gallery, label_of, list(label_of), len(gallery),
                         lambda path: "turned" if path in turned else "upright")
    return Suite("texture", gallery, [task])


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


def hits(task: Task, rankings: list[Ranking]) -> list[list[bool]]:
    return [[pos in relevant for pos, _ in ranking] for ranking, relevant in zip(rankings, task.relevant)]


def by_group(task: Task, values: Sequence[float]) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for group, value in zip(task.groups, values):
        groups.setdefault(group, []).append(value)
    return {group: float(np.mean(group_values)) for group, group_values in groups.items()}


# --- metrics per benchmark ---------------------------------------------------------------------


def near_duplicate_metrics(task: Task, rankings: list[Ranking], threshold: float | None) -> dict:
    found = hits(task, rankings)
    scores = ranking_scores(found, [1] * len(found), ks=(1, 10))
    curve = copy_curve(found, rankings)
    best_threshold, precision, recall, f1 = curve.best_f1()
    return {
        "recall_at_1_by_edit": by_group(task, [float(any(h[:1])) for h in found]),
        "map": scores.map,
        "recall_at_1": scores.recall_at[1],
        "recall_at_10": scores.recall_at[10],
        "best_f1": {"f1": f1, "threshold": best_threshold, "precision": precision, "recall": recall},
        "own_threshold": None if threshold is None else {"threshold": threshold, **operating_point(curve, threshold)},
        "curve": thinned_curve(curve),
    }


def thinned_curve(curve: ThresholdCurve, points: int = 300) -> dict[str, list[float]]:
    """The precision-recall curve at most `points` thresholds apart, for the plot and the JSON."""
    keep = np.unique(np.linspace(0, len(curve.thresholds) - 1, points).round().astype(int))
    return {name: getattr(curve, name)[keep].round(5).tolist() for name in ("thresholds", "precision", "recall")}


def copy_curve(found: list[list[bool]], rankings: list[Ranking]) -> ThresholdCurve:
    """Copy verification over the scored results: every (query, result) pair is a copy or
    not; a copy missing from the results can be found by no threshold (score -1)."""
    scores = [score for ranking in rankings for _, score in ranking]
    same = [hit for row in found for hit in row]
    missed = sum(1 for row in found if not any(row))
    return threshold_curve(scores + [-1.0] * missed, same + [True] * missed)


def operating_point(curve: ThresholdCurve, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of "copy if score >= threshold"."""
    at_or_above = np.flatnonzero(curve.thresholds >= threshold - 1e-9)
    if not len(at_or_above):
        return {"precision": 1.0, "recall": 0.0, "f1": 0.0}
    i = int(at_or_above[-1])
    return {"precision": float(curve.precision[i]), "recall": float(curve.recall[i]), "f1": float(curve.f1[i])}


def same_object_metrics(task: Task, rankings: list[Ranking]) -> dict:
    found = hits(task, rankings)
    scores = ranking_scores(found, [1] * len(found), ks=(1, 5, 10))
    ranks = [next((i + 1 for i, hit in enumerate(row) if hit), None) for row in found]
    return {
        "recall_at": {str(k): v for k, v in scores.recall_at.items()},
        "map": scores.map,
        "partner_rank": {f"{group}:{task.queries[i].name}": rank for i, (group, rank) in
                         enumerate(zip(task.groups, ranks))},
    }


def fashion_metrics(task: Task, rankings: list[Ranking]) -> dict:
    scores = ranking_scores(hits(task, rankings), [len(r) for r in task.relevant], ks=(FASHION_DEPTH,))
    return {"map_at_10": scores.map_at_10, "precision_at_10": scores.precision_at[FASHION_DEPTH]}


def texture_metrics(task: Task, rankings: list[Ranking]) -> dict:
    found = hits(task, rankings)
    totals = [len(r) for r in task.relevant]
    turned = [i for i, group in enumerate(task.groups) if group == "turned"]
    return {
        "map": ranking_scores(found, totals).map,
        "map_turned_queries": ranking_scores([found[i] for i in turned], [totals[i] for i in turned]).map,
        "precision_at_1": ranking_scores(found, totals, ks=(1,)).precision_at[1],
    }


def index_recall(reference: list[Ranking], approximate: list[Ranking], k: int) -> dict[str, float]:
    """How many of the exact top-k an approximate search returns (recall@1 and @k)."""
    at_k = [len({p for p, _ in a[:k]} & {p for p, _ in r[:k]}) / max(1, len(r[:k]))
            for r, a in zip(reference, approximate)]
    at_1 = [float(bool(a) and bool(r) and a[0][0] == r[0][0]) for r, a in zip(reference, approximate)]
    return {"recall_at_1": float(np.mean(at_1)), f"recall_at_{k}": float(np.mean(at_k))}


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


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=float))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="lookalike vs its peers: retrieval quality")
    parser.add_argument("--quick", action="store_true", help="small subsets, for a smoke run")
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    print(run(args.data, args.docs, quick=args.quick))


if __name__ == "__main__":
    main()

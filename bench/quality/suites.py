"""What the quality benchmark asks: galleries (`Suite`) and the queries against them
(`Task`), built from the prepared data set (`bench.data`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .. import data

SHUFFLE_SEED = 7
NEAR_DUPLICATE_DEPTH = 20  # results kept per near-duplicate query: mAP counts later ranks as misses
SAME_OBJECT_DEPTH = 10
FASHION_DEPTH = 10


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

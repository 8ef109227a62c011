"""The one-machine figures (a million items): the speed run's results at the scale size,
plus single writes there and the scan checked against every pair within reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..child_process import run_child
from ..timing.layout import store_path, stranger_photos
from ..timing.log import log
from ..timing.plan import Plan
from .tasks import task_group_recall, task_single_writes


def measure(work: Path, plan: Plan, results: dict[str, Any]) -> dict[str, Any]:
    """The one-machine figures: from the speed run's results at plan.scale_size (store,
    latency, duplicates), plus single adds and removals there and the scan-versus-exhaustive
    check at plan.group_recall_size."""
    size = plan.scale_size
    log(f"single adds and removals at {size:,} images")
    writes = run_child(task_single_writes, timeout=1800, db=str(store_path(work, size)),
                       photos=[str(path) for path in stranger_photos(work / "strangers")])
    log(f"duplicate groups: the scan against every pair within reach, {plan.group_recall_size:,} images")
    recall = run_child(
        task_group_recall, timeout=5400,
        db=str(store_path(work, plan.group_recall_size)), scratch=str(work / "scratch"),
    )
    recall["size"] = plan.group_recall_size
    return {
        "size": size,
        "store": _pick(results["stores"], size),
        "latency": _pick(results["latency"], size),
        "duplicates": _pick(results["duplicates"]["lookalike"], size),
        "single_writes": writes,
        "group_recall": recall,
    }


def _pick(table: dict[Any, Any], size: int) -> dict[str, Any]:
    found = table.get(size, table.get(str(size)))
    return found if found is not None else {"error": f"not measured at {size:,}"}

"""bench.quality's PNG plots, from its results alone."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .names import OURS, SHIPPED, edit_order, method_names

PLOT_DPI = 110


def quality_plots(results: dict, docs_dir: Path) -> dict[str, str]:
    """Write the PNGs under DOCS/img; returns their paths relative to DOCS, by name."""
    import matplotlib

    matplotlib.use("Agg")
    img = docs_dir / "img"
    img.mkdir(parents=True, exist_ok=True)
    plots = {
        "per_edit": plot_per_edit(results, img / "quality-near-duplicates-per-edit.png"),
        "copy_threshold": plot_copy_curves(results, img / "quality-copy-threshold.png"),
        "summary": plot_summary(results, img / "quality-summary.png"),
    }
    return {name: path.relative_to(docs_dir).as_posix() for name, path in plots.items()}


def plot_per_edit(results: dict, path: Path) -> Path:
    import matplotlib.pyplot as plt

    names, edits = method_names(results), edit_order(results)
    grid = np.array([[results["near_duplicates"][m]["recall_at_1_by_edit"][e] for m in names] for e in edits])
    figure, axes = plt.subplots(figsize=(1.5 + 0.75 * len(names), 1.2 + 0.32 * len(edits)))
    axes.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes.set_yticks(range(len(edits)), edits)
    for (row, column), value in np.ndenumerate(grid):
        axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
    axes.set_title("Near-duplicates: recall@1 per edit (1 = the original ranked first for every query)")
    return save_figure(figure, path)


def plot_copy_curves(results: dict, path: Path) -> Path:
    """Precision-recall of "copy if score >= t" for lookalike and the best method of each family."""
    import matplotlib.pyplot as plt

    near = results["near_duplicates"]
    figure, axes = plt.subplots(figsize=(7, 5))
    for name in plotted_methods(results):
        curve, best = near[name]["curve"], near[name]["best_f1"]
        line, = axes.plot(curve["recall"], curve["precision"], label=f"{name} (best F1 {best['f1']:.3f})",
                          linewidth=2.5 if name in SHIPPED else 1.2)
        axes.plot([best["recall"]], [best["precision"]], "o", color=line.get_color())
        own = near[name]["own_threshold"]
        if own:
            axes.plot([own["recall"]], [own["precision"]], "x", color=line.get_color(), markersize=9)
    axes.set_xlabel("recall (copies found)")
    axes.set_ylabel("precision (of results called copies)")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.set_title("Copy or not, one global threshold: o = best F1, x = the method's own threshold", fontsize=10)
    axes.legend(loc="lower left", fontsize=8)
    return save_figure(figure, path)


def plotted_methods(results: dict) -> list[str]:
    """lookalike's modes and the best-F1 method of each peer family."""
    near = results["near_duplicates"]
    chosen = [name for name in method_names(results) if name.startswith(OURS)]
    for prefix in ("IH-", "idd-", "CNN-"):
        family = [name for name in method_names(results) if name.startswith(prefix)]
        chosen.append(max(family, key=lambda name: near[name]["best_f1"]["f1"]))
    return chosen


def plot_summary(results: dict, path: Path) -> Path:
    import matplotlib.pyplot as plt

    names = method_names(results)
    panels = [(title, [metric(results, name) for name in names]) for title, metric in summary_metrics()]
    figure, axes = plt.subplots(len(panels), 1, figsize=(10, 2.3 * len(panels)), sharex=True)
    for axis, (title, values) in zip(axes, panels):
        colours = ["tab:green" if name.startswith(OURS) else "tab:gray" for name in names]
        axis.bar(range(len(names)), values, color=colours)
        axis.set_ylim(0, 1.15)
        axis.set_title(title, fontsize=10)
        for x, value in enumerate(values):
            axis.text(x, value + 0.02, f"{value:.2f}", ha="center", fontsize=7)
    axes[-1].set_xticks(range(len(names)), names, rotation=45, ha="right")
    return save_figure(figure, path)


def summary_metrics() -> list[tuple[str, Callable[[dict, str], float]]]:
    return [
        ("Near-duplicates: mAP", lambda r, m: r["near_duplicates"][m]["map"]),
        ("Copy verification: best F1 of one global threshold", lambda r, m: r["near_duplicates"][m]["best_f1"]["f1"]),
        ("Same object, another view: recall@1", lambda r, m: r["same_object"][m]["recall_at"]["1"]),
        ("Fashion-MNIST: mAP@10", lambda r, m: r["fashion"][m]["map_at_10"]),
        ("Texture patches: mAP", lambda r, m: r["texture"][m]["map"]),
    ]


def save_figure(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=PLOT_DPI)
    plt.close(figure)
    return path

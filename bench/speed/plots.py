"""The speed benchmark's plots (PNG), from its results alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report import METHOD_LABELS, SET_LABELS, TARGET_P50_MS_AT_1M


def draw_plots(results: dict[str, Any], folder: Path) -> dict[str, str]:
    """Plot files (names relative to the docs folder) by topic."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if results["quick"] else ""
    drawn = {}
    for topic, draw in (("indexing", _plot_indexing), ("latency", _plot_latency), ("duplicates", _plot_duplicates)):
        path = folder / f"speed-{topic}{suffix}.png"
        if draw(results, path):
            drawn[topic] = f"{folder.name}/{path.name}"
    return drawn


def _plot_indexing(results: dict[str, Any], path: Path) -> bool:
    import matplotlib.pyplot as plt

    indexing = results["indexing"]
    sets = [name for name in SET_LABELS if name in indexing]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 1.3 * len(sets)))
    height = 0.8 / len(METHOD_LABELS)
    for m, (method, label) in enumerate(METHOD_LABELS.items()):
        rates = [indexing[s][method].get("images_per_s", 0) for s in sets]
        ax.barh([i + m * height for i in range(len(sets))], rates, height, label=label)
    onnx = indexing["onnx_batch"].get("images_per_s")
    if onnx:
        ax.axvline(onnx, color="black", linestyle="--", linewidth=1, label="ONNX model alone, batch 16")
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(sets))], [SET_LABELS[s] for s in sets])
    ax.set_xscale("log")
    ax.set_xlabel("images per second, end to end (2 cores; log scale)")
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Indexing throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _plot_latency(results: dict[str, Any], path: Path) -> bool:
    import matplotlib.pyplot as plt

    rows = [(int(size), r) for size, r in results["latency"].items() if "ms" in r]
    if not rows:
        return False
    sizes = [size for size, _ in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for stage, style in (("total", "-"), ("index", ":")):
        for pct, marker in (("p50", "o"), ("p99", "^")):
            values = [r["ms"][stage][pct] for _, r in rows]
            ax.plot(sizes, values, style, marker=marker, label=f"{pct}, {'query image to results' if stage == 'total' else 'index search only'}")
    ax.axhline(TARGET_P50_MS_AT_1M, color="grey", linestyle="--", linewidth=1, label="target: p50 < 50 ms at 1M")
    return _save_log_log(fig, ax, path, "stored images (synthetic vectors)", "ms per query (log scale)",
                         "Query latency, one query at a time, 2 cores")


def _plot_duplicates(results: dict[str, Any], path: Path) -> bool:
    import matplotlib.pyplot as plt

    duplicates = results["duplicates"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ok = [(int(n), r["seconds"]) for n, r in duplicates["lookalike"].items() if "error" not in r and "seconds" in r]
    failed = [(int(n), r.get("seconds", r.get("wall_seconds", 0))) for n, r in duplicates["lookalike"].items() if "error" in r]
    if ok:
        ax.plot(*zip(*ok), "o-", label="lookalike duplicates()")
    if failed:
        ax.plot(*zip(*failed), "rx", markersize=10, label="lookalike: failed (time until it failed)")
    peer = [(int(n), r["seconds"]) for n, r in duplicates["imagededup"].items() if "error" not in r]
    if peer:
        ax.plot(*zip(*peer), "s-", label="imagededup find_duplicates (pHash)")
    extrapolated = duplicates.get("imagededup_extrapolated")
    if peer and extrapolated:
        ax.plot([peer[-1][0], extrapolated["size"]], [peer[-1][1], extrapolated["seconds"]], "s--", alpha=0.5,
                label="imagededup, extrapolated (n^2 fit)")
    return _save_log_log(fig, ax, path, "images (synthetic vectors)", "seconds (log scale)", "Finding all duplicate groups")


def _save_log_log(fig: Any, ax: Any, path: Path, xlabel: str, ylabel: str, title: str) -> bool:
    """Both axes logarithmic, labelled, with the legend; written to `path`."""
    import matplotlib.pyplot as plt

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True

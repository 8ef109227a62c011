"""The crops benchmark's tables (docs/crops-and-views.md quotes them), from its results alone."""

from __future__ import annotations


def render(results: dict) -> str:
    configs = list(results["search"])
    lines = [f"{results['gallery_images']} gallery images, {results['queries']} queries", "",
             "| indexing | s/image | vectors/image | index B/image | keypoint cache B/image |", "|---|---|---|---|---|"]
    for name, row in results["indexing"].items():
        lines.append(f"| {name} | {row['seconds_per_image']:.3f} | {row.get('vectors_per_image', '')} | "
                     f"{row.get('index_bytes_per_image', 0):,} | {row.get('cache_bytes_per_image', 0):,} |")
    lines += ["", "recall@1 (right tier at rank 1) and p50 / p90 ms of the whole search; for +keypoints, "
              "the stage's own p50 wall / CPU ms (paired differences):", "",
              "| queries | n | " + " | ".join(configs) + " |", "|---|---|" + "---|" * len(configs)]
    for group, base in results["search"][configs[0]].items():
        cells = []
        for name in configs:
            row = results["search"][name][group]
            cell = f"{row['recall@1']:.3f} ({row['right_tier@1']:.3f}) {row['p50_ms']:.0f}/{row['p90_ms']:.0f} ms"
            if name.endswith("+keypoints"):
                cell += f"; stage {row['stage_p50_ms']:.0f} / CPU {row['stage_cpu_p50_ms']:.0f} ms"
            cells.append(cell)
        lines.append(f"| {group} | {base['queries']} | " + " | ".join(cells) + " |")
    cold = results.get("keypoints_cold_cache", {})
    if cold:
        lines += ["", "keypoints, cold cache (candidates decoded at query time): "
                  + ", ".join(f"{g} p50 {v['p50_ms']:.0f} ms (stage {v['stage_p50_ms']:.0f} ms)" for g, v in cold.items())]
    return "\n".join(lines)

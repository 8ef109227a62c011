"""The one-machine figures as a Markdown subsection (of the speed section), from the
results alone, against the issue's targets."""

from __future__ import annotations

from typing import Any

from ..markdown import table as markdown_table

MB = 1024 * 1024
TARGET_RSS_MB = 4096
TARGET_RECALL = 0.95
TARGET_INDEX_P50_MS = 20.0
TARGET_DUPLICATES_SECONDS = 15 * 60


def targets(scale: dict[str, Any]) -> list[list[str]]:
    """[target, measured, met] rows."""
    latency, duplicates, store = scale["latency"], scale["duplicates"], scale["store"]
    size = f"{int(scale['size']):,}"
    rows = []
    rss = latency.get("serving_peak_rss_mb")
    rows.append([f"peak RSS while serving {size} items under {TARGET_RSS_MB / 1024:.0f} GB",
                 _mb(rss), _met(rss, lambda v: v < TARGET_RSS_MB)])
    if "recall_at_10_stored_vectors" in latency:
        recall = min(latency["recall_at_10_stored_vectors"], latency["recall_at_10_query_images"])
        rows.append([f"embedding index recall@10 at least {TARGET_RECALL} against exact search",
                     f"{recall:.3f} (worse of query images and stored vectors)", _met(recall, lambda v: v >= TARGET_RECALL)])
    if "candidate_recall_stored_vectors" in latency:
        covered = min(latency["candidate_recall_stored_vectors"], latency["candidate_recall_query_images"])
        rows.append(["(exact top 10 among the 40 candidates search takes from the index and re-scores)",
                     f"{covered:.3f}", _met(covered, lambda v: v >= TARGET_RECALL)])
    index = latency.get("ms", {}).get("index", {}).get("p50")
    rows.append([f"search p50 under {TARGET_INDEX_P50_MS:.0f} ms for the index part",
                 _ms(index) + " (every candidate index, 8 orientations)", _met(index, lambda v: v < TARGET_INDEX_P50_MS)])
    single = latency.get("embedding_index_ms", {}).get("p50")
    rows.append(["(the embedding index alone, one vector, k=10)", _ms(single), _met(single, lambda v: v < TARGET_INDEX_P50_MS)])
    seconds = duplicates.get("seconds") if "error" not in duplicates else None
    rows.append([f"`duplicates` over all {size} in under {TARGET_DUPLICATES_SECONDS // 60} minutes",
                 "failed: " + str(duplicates.get("error")) if seconds is None else f"{seconds / 60:.1f} min",
                 _met(seconds, lambda v: v < TARGET_DUPLICATES_SECONDS)])
    if "peak_rss_mb" in store:
        rows.append([f"(building the store: bulk insert, training, adding; peak RSS)", _mb(store["peak_rss_mb"]),
                     _met(store["peak_rss_mb"], lambda v: v < TARGET_RSS_MB)])
    return rows


def render(results: dict[str, Any]) -> str:
    scale = results.get("scale")
    if not scale:
        return ""
    store, latency, duplicates, recall = scale["store"], scale["latency"], scale["duplicates"], scale["group_recall"]
    size = int(scale["size"])
    lines = [
        f"### A million images on one machine" if size >= 1_000_000 else f"### One machine ({size:,} items in this run)",
        "",
        f"A store of {size:,} items with every default feature (synthetic vectors, see the last subsection) on "
        f"{results.get('cpu_count', '?')} cores. Past `Settings.max_exact_vectors` (50,000) the embedded store "
        "switches from exact search to compressed approximate indexes on its own when it saves: the embedding and "
        "the other float features get an inverted file over k-means cells with 8-bit codes (`IVF{n}_HNSW32,SQ8`, "
        "a quarter of the float32 size; a query finds its 32 nearest cells through an HNSW graph over the cell "
        "centres instead of comparing with every centre), the hashes a binary inverted file (`BIVF{n}`, their 8 bytes are their own "
        "codes). The cells are learned from a sample of at most 160,000 vectors read from the catalog, never "
        "the whole collection twice; the index is rebuilt with new cells when it grows or shrinks 16-fold, and "
        "goes back to exact search below the limit. Add and remove work in place (inverted lists drop ids "
        "directly, no tombstones to compact). The store's `search_vectors` asks the compressed index for 3k + 10 "
        "candidates and re-ranks them with the exact vectors from the catalog; `search` takes each index's 40 "
        "nearest as they come (it re-scores every candidate exactly itself). `duplicates` takes every image's 16 nearest "
        "neighbours in each copy detector's index (the embedding index scanned cell by cell, each cell against "
        "itself and its 2 nearest cells on the decoded codes; each hash asks its binary index, 3 cells), bounds "
        "each pair's fused score with the small features held in memory (hashes, colour, texture: ~500 bytes "
        "per image) and re-scores only the pairs that can reach the threshold exactly from the catalog.",
        "",
        markdown_table(["target", "measured", "met"], targets(scale)) + "\n",
    ]
    if "error" not in store:
        lines += [
            f"- Store: {_gb(store['catalog_bytes'])} catalog (the exact vectors, source of truth) + "
            f"{_gb(store['index_bytes'])} indexes, {store['bytes_per_image'] / 1024:.1f} KB per image; indexes "
            f"{', '.join(f'{k} `{v}`' for k, v in sorted(store['factories'].items()))}. Built in "
            f"{store['insert_seconds'] / 60:.0f} min of bulk insert plus {store['index_build_seconds'] / 60:.1f} min "
            "to train and fill the indexes.",
        ]
    if "ms" in latency:
        ms = latency["ms"]
        lines.append(
            f"- Serving: open {latency['open_seconds']:.1f} s; a query image to results p50 {ms['total']['p50']:.0f} ms "
            f"(p99 {ms['total']['p99']:.0f}), of which the query's features {ms['features']['p50']:.0f} ms, the index "
            f"part {ms['index']['p50']:.1f} ms, re-scoring {ms['rescore']['p50']:.0f} ms; the edited query found its "
            f"original in the top 10 for {latency['planted_found']:.0%} of the queries."
        )
    if "seconds" in duplicates and "error" not in duplicates:
        stages = duplicates.get("stage_seconds", {})
        lines.append(
            f"- `duplicates`: {duplicates['seconds'] / 60:.1f} min, peak RSS {_mb(duplicates.get('peak_rss_mb'))}; "
            f"{duplicates.get('candidate_pairs') or 0:,} candidate pairs ({stages.get('candidates', 0) / 60:.1f} min of "
            f"index searches), {duplicates.get('rescored_pairs') or 0:,} re-scored exactly "
            f"({stages.get('scoring', 0) / 60:.1f} min), "
            f"{duplicates['groups']:,} groups holding {duplicates['grouped_images']:,} images."
        )
    writes = scale.get("single_writes", {})
    if "add_ms" in writes:
        lines.append(
            f"- One image at a time ({writes['photos']} photos not in the store): an add p50 "
            f"{writes['add_ms']['p50']:.0f} ms (slowest {writes['add_ms']['max']:.0f}), a removal p50 "
            f"{writes['remove_ms']['p50']:.0f} ms (slowest {writes['remove_ms']['max']:.0f}); the index files are "
            "written again only once 1% of an index changed since its last save, the catalog's journal of "
            "written and deleted vectors covering the rest."
        )
    elif writes:
        lines.append(f"- One image at a time: **failed** ({writes.get('error')}).")
    if "error" not in recall:
        lines.append(
            f"- The scan against every pair within reach (exact indexes, range searches) on {recall['size']:,} "
            f"items: {recall['found_groups']:,} groups found of {recall['exact_groups']:,}; "
            f"{recall['groups_found_whole']:.1%} of the exact groups found whole, pair recall "
            f"{recall['pair_recall']:.1%}, {recall['found_inside_exact']:.1%} of the found groups inside one exact "
            f"group; {recall['scan_seconds']:.0f} s for the scan, {recall['exhaustive_seconds']:.0f} s exhaustive."
        )
    else:
        lines.append(f"- The scan against every pair within reach: **failed** ({recall['error']}).")
    return "\n".join(lines) + "\n"


def _met(value: float | None, test: Any) -> str:
    return "n/a" if value is None else ("**yes**" if test(value) else "**no**")


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} MB"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _gb(count: float) -> str:
    return f"{count / 1024**3:.2f} GB" if count >= 1024**3 else f"{count / MB:.0f} MB"

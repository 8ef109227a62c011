"""The startup benchmark's Markdown section and its verdicts on issue 20's targets, from
the results alone (`bench.startup.benchmark.run`'s dictionary, as DATA/results/startup.json
keeps it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..markdown import table

# Issue 20's targets.
TARGET_INFO_RATIO = 2.5  # `lookalike info` against a bare `import numpy, PIL.Image`
TARGET_COLD_SEARCH_S = 0.8  # a cold `lookalike search` of one image...
TARGET_SEARCH_SIZE = 10_000  # ...on a store of this many images
TARGET_CACHED_THUMBNAIL_P50_MS = 20.0

BARE_IMPORT = "`python -c 'import numpy, PIL.Image'`"
COMMAND_LABELS = {
    "bare_import": f"{BARE_IMPORT} (the bare import)",
    "help": "`lookalike --help`",
    "info": "`lookalike info`",
    "remove": "`lookalike remove PATH` (one stored image, from a fresh copy of the store each run)",
}


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with the measured value and whether it is met (None: not measured)."""
    info = results["commands"].get("info", {})
    search = results["cold_search"].get("synthetic", {})
    thumbnails = results["thumbnails"]
    ratio = info.get("ratio_to_bare")
    seconds = search.get("median_s")
    p50 = thumbnails.get("cached", {}).get("p50_ms")
    return {
        "info_ratio_to_bare_import": {"below": TARGET_INFO_RATIO, "value": ratio,
                                      "met": None if ratio is None else ratio < TARGET_INFO_RATIO},
        "cold_search_seconds": {"below": TARGET_COLD_SEARCH_S, "store_size": results["cold_search"]["size"],
                                "target_store_size": TARGET_SEARCH_SIZE, "value": seconds,
                                "met": None if seconds is None else seconds < TARGET_COLD_SEARCH_S},
        "cached_thumbnail_p50_ms": {"below": TARGET_CACHED_THUMBNAIL_P50_MS, "value": p50,
                                    "met": None if p50 is None else p50 < TARGET_CACHED_THUMBNAIL_P50_MS},
    }


def render(results: dict[str, Any]) -> str:
    parts = [
        "## Startup",
        "",
        _intro(results),
        "### Targets",
        "",
        _targets_table(results),
        "",
        _commands_section(results),
        _search_section(results),
        _thumbnails_section(results),
    ]
    return "\n".join(parts)


def met_cell(met: bool | None) -> str:
    return "not measured" if met is None else ("**met**" if met else "**NOT met**")


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _intro(results: dict[str, Any]) -> str:
    plan = results["plan"]
    text = (
        f"Issue 20's start-up and thumbnail targets, on this machine ({results['cpu_count']} cores, no GPU). "
        f"Every command is a fresh process started as a user types it (the virtualenv's `lookalike` script, "
        f"its `python` for the bare import), timed by the parent from start to exit: median and p90 of "
        f"{plan['runs']} processes per command ({plan['search_runs']} per cold search), after one untimed "
        f"warm-up run each. The processes run with `PYTHONPYCACHEPREFIX` pointing to a folder in the data dir "
        f"(and without `PYTHONDONTWRITEBYTECODE`), which the warm-up runs fill: bytecode is compiled once, as "
        f"pip does for an installed package, never in a timed run. The operating system's file cache is warm "
        f"(the files were just read). Raw numbers: `results/startup.json` in the data folder.\n"
    )
    if results["quick"]:
        text += ("\n**Quick mode: a smaller store and fewer runs, for a smoke test; not comparable with a full "
                 "run.**\n")
    load = results["machine_load"]
    highest = max(load["before"][0], load["after"][0])
    text += (f"\nLoad average (1, 5, 15 minutes) before the run: {', '.join(f'{x:.2f}' for x in load['before'])}; "
             f"after: {', '.join(f'{x:.2f}' for x in load['after'])}.")
    if highest >= results["cpu_count"]:
        niced = (f" and the benchmark ran at niceness {results['niceness']}, behind that work"
                 if results.get("niceness", 0) > 0 else "")
        text += (f" **Other work shared the machine during this run** (1-minute load average up to {highest:.1f} "
                 f"on {results['cpu_count']} cores{niced}): the times are pessimistic, and start-up times, "
                 f"single-threaded and short, are the most easily stretched.")
    return text + "\n"


def _targets_table(results: dict[str, Any]) -> str:
    found = results["targets"]
    commands = results["commands"]
    info, bare = commands.get("info", {}), commands.get("bare_import", {})
    ratio = found["info_ratio_to_bare_import"]
    info_cell = (f"{ratio['value']:.2f}x ({_seconds(info['median_s'])} / {_seconds(bare['median_s'])}, medians)"
                 if ratio["value"] is not None else _error(info if "error" in info else bare))
    search = found["cold_search_seconds"]
    size = search["store_size"]
    synthetic = results["cold_search"].get("synthetic", {})
    search_cell = (f"{_seconds(search['value'])} median (p90 {_seconds(synthetic['p90_s'])})"
                   if search["value"] is not None
                   else _error(synthetic if "error" in synthetic else results["cold_search"]))
    if size != TARGET_SEARCH_SIZE:
        search_cell += f", at {size:,} images (quick mode)"
    thumbnail = found["cached_thumbnail_p50_ms"]
    thumbnail_cell = (f"{thumbnail['value']:.1f} ms (p99 {results['thumbnails']['cached']['p99_ms']:.1f} ms)"
                      if thumbnail["value"] is not None else _error(results["thumbnails"]))
    rows = [
        [f"`lookalike info` under {TARGET_INFO_RATIO}x a bare {BARE_IMPORT}", info_cell, met_cell(ratio["met"])],
        [f"a cold `lookalike search` of one image on {TARGET_SEARCH_SIZE:,} stored images under "
         f"{TARGET_COLD_SEARCH_S} s", search_cell, met_cell(search["met"])],
        [f"a cached thumbnail from `lookalike serve`: p50 under {TARGET_CACHED_THUMBNAIL_P50_MS:.0f} ms",
         thumbnail_cell, met_cell(thumbnail["met"])],
    ]
    return table(["target", "measured", "met"], rows)


def _error(part: dict[str, Any]) -> str:
    return f"not measured: {part.get('error', 'no result')}".replace("|", "/")


def _commands_section(results: dict[str, Any]) -> str:
    commands = results["commands"]
    rows = []
    for name, label in COMMAND_LABELS.items():
        run = commands.get(name, {})
        if "median_s" not in run:
            rows.append([label, _error(run), "", ""])
            continue
        ratio = "1.00x" if name == "bare_import" else (f"{run['ratio_to_bare']:.2f}x" if "ratio_to_bare" in run else "")
        rows.append([label, _seconds(run["median_s"]), _seconds(run["p90_s"]), ratio])
    gallery = results["thumbnails"].get("images")
    store = f"the thumbnail store below ({gallery} real photos, every default feature)" if gallery else \
        "the thumbnail store below (real photos, every default feature)"
    return "\n".join([
        "### Commands that need no model",
        "",
        f"`info` and `remove` run on {store}.",
        "",
        table(["command", "median", "p90", "x bare import"], rows),
        "",
    ])


SEARCH_LABELS = {
    "synthetic": ("synthetic: hashes, colour, texture, CNN embedding", "no copy stored (the CNN runs)"),
    "synthetic_copy": ("synthetic: hashes, colour, texture, CNN embedding", "an edited copy of a stored photo"),
    "real": ("real photos: every default feature, copy descriptor included", "no copy stored (the CNN runs)"),
}


def _search_section(results: dict[str, Any]) -> str:
    search = results["cold_search"]
    lines = ["### Cold search", ""]
    if "synthetic" not in search:
        return "\n".join(lines + [_error(search), ""])
    lines += [
        f"`lookalike search QUERY -k 10` in a fresh process: open the store, load the ONNX models (converted in "
        f"the cache beforehand, as after a first run), search, print. The {search['size']:,}-image store is the "
        f"speed benchmark's synthetic one (its real photos plus vectors drawn around real embeddings, "
        f"`bench.timing.synthetic`); synthetic stores hold no copy descriptor vectors yet, so a search there loads "
        f"one model fewer than on a store with the default features, which the real photo store it is modelled "
        f"on has. The target is checked on the first row: a photo with no copy stored (scikit-image's "
        f"`{Path(search['synthetic'].get('query_file', '?')).name}`), so the hashes never settle it and the CNN "
        f"runs on it. The second query is an edited copy of one of the stored photos "
        f"(`{Path(search['synthetic_copy'].get('query_file', '?')).name}`).",
        "",
    ]
    rows = []
    for name, (store, query) in SEARCH_LABELS.items():
        run = search[name]
        if "median_s" not in run:
            rows.append([store, query, "", _error(run), ""])
            continue
        rows.append([store, query, f"{run['images']:,}", _seconds(run["median_s"]), _seconds(run["p90_s"])])
    return "\n".join(lines + [table(["store", "query", "images", "median", "p90"], rows), ""])


def _thumbnails_section(results: dict[str, Any]) -> str:
    thumbnails = results["thumbnails"]
    lines = ["### Thumbnails", ""]
    if "error" in thumbnails:
        return "\n".join(lines + [_error(thumbnails), ""])
    sizes = ", ".join(str(size) for size in thumbnails["sizes"])
    lines += [
        f"A real `lookalike serve` on localhost (answering `/healthz` "
        f"{thumbnails['server_start_seconds']:.1f} s after it started) over {thumbnails['images']} of scikit-image's samples enlarged to 4096 pixels on their "
        f"long side (JPEG, quality 90). Each image's thumbnail is asked at the web page's sizes ({sizes} px) once, "
        f"made from the original then, and then {thumbnails['rounds']} more times, read from the store's thumbnail "
        f"folder; one kept-alive connection, as a browser holds, timed from request to last byte, without "
        f"`If-None-Match` (each answer carries the whole JPEG, {thumbnails['mean_bytes'] / 1024:.0f} KB on "
        f"average). Pillow decodes a JPEG at 1/2 to 1/8 scale when a thumbnail needs no more, so the first request "
        f"of a PNG or WebP original of the same size costs more than here.",
        "",
    ]
    rows = [[label, f"{thumbnails[key]['requests']:,}", f"{thumbnails[key]['p50_ms']:.1f} ms",
             f"{thumbnails[key]['p99_ms']:.1f} ms"]
            for key, label in (("first", "first request (made now)"), ("cached", "repeated (cached)"))]
    return "\n".join(lines + [table(["request", "requests", "p50", "p99"], rows), ""])

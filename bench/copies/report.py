"""The copy benchmark's Markdown (docs/copies.md and its section of docs/benchmarks.md),
from the results alone."""

from __future__ import annotations

from typing import Any

from ..markdown import table
from .galleries import SOURCES_USED


def number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary(results: dict[str, Any]) -> list[str]:
    """One line per system: how often its shipped verdict calls a hard negative a copy, where
    it does so most, and its weakest edit kinds."""
    lines = []
    galleries = [g["name"] for g in results["galleries"]]
    for system in results["systems"]:
        numbers = results["results"][system["name"]]
        false = {g: numbers[g]["shipped"]["false_copy_share"] for g in galleries}
        queries = {g: numbers[g]["queries"] for g in galleries}
        overall = sum(false[g] * queries[g] for g in galleries) / sum(queries.values())
        worst = sorted(galleries, key=lambda g: -false[g])[:2]
        edits = numbers[galleries[0]]["recall@1_by_edit"]
        mean = {e: sum(numbers[g]["recall@1_by_edit"][e] for g in galleries) / len(galleries) for e in edits}
        weakest = sorted(mean, key=mean.__getitem__)[:3]
        lines.append(f"- **{system['name']}** calls the best non-copy a copy for {overall:.0%} of all queries "
                     f"(most in {', '.join(f'{g} {false[g]:.0%}' for g in worst)}); its weakest edits "
                     f"(mean recall@1): {', '.join(f'{e} {mean[e]:.2f}' for e in weakest)}.")
    return lines


def section(results: dict[str, Any], heading: str = "## Copies") -> str:
    systems = [s["name"] for s in results["systems"]]
    galleries = [g["name"] for g in results["galleries"]]
    min_recall = results["min_recall"]
    out = [heading, "",
           "Copy detection against hard negatives (`python -m bench.copies`, docs/copies.md): in every gallery the "
           "distractors are pictures of the same kind as the sources, and only the sources' edited copies are queries."
           + (" **Quick mode: small galleries, not comparable.**" if results["quick"] else ""), "",
           table(["gallery", "what", "sources", "distractors", "queries"],
                 [[g["name"], g["description"], str(g["sources"]), str(g["distractors"]), str(g["queries"])]
                  for g in results["galleries"]]), "",
           "Systems: " + "; ".join(f"**{s['name']}**: {s['description']}, a copy at {s['threshold_origin']}"
                                   for s in results["systems"]) + ".", "",
           *summary(results), "",
           "### recall@1 (the source at rank 1)", ""]
    rows = [[g] + [number(results["results"][s][g]["recall@1"]) for s in systems] for g in galleries]
    out += [table(["gallery", *systems], rows), ""]
    edits = list(results["results"][systems[0]][galleries[0]]["recall@1_by_edit"])
    out += ["recall@1 by edit kind, mean over the galleries (each gallery weighs the same):", ""]
    rows = []
    for edit in edits:
        rows.append([edit] + [number(sum(results["results"][s][g]["recall@1_by_edit"][edit] for g in galleries)
                                     / len(galleries)) for s in systems])
    out += [table(["edit", *systems], rows), ""]
    out += [f"### The copy verdict", "",
            "Pairs: (query, its source) are positives, (query, the best-ranked picture that is not its source) "
            "negatives. Precision / recall of the verdict at the system's shipped threshold, and the share of queries "
            f"whose best non-copy is called a copy (false copies); then the best precision at recall >= {min_recall} "
            "if the threshold were moved, per gallery (threshold in brackets):", ""]
    headers = ["gallery"]
    for s in systems:
        headers += [f"{s}: P / R shipped", f"{s}: false copies", f"{s}: P @ R>={min_recall}"]
    rows = []
    for g in galleries:
        row = [g]
        for s in systems:
            numbers = results["results"][s][g]
            shipped, moved = numbers["shipped"], numbers["at_recall"]
            row += [f"{number(shipped['precision'])} / {number(shipped['recall'])}", number(shipped["false_copy_share"]),
                    "unreachable" if moved is None else f"{number(moved['precision'])} ({number(moved['threshold'])})"]
        rows.append(row)
    out += [table(headers, rows), ""]
    out += [f"ONE threshold for all galleries (the best precision at recall >= {min_recall} over the pooled pairs), "
            "and each gallery's precision / recall / false copies at it:", ""]
    headers, rows = ["gallery"], []
    for s in systems:
        shared = results["shared_threshold"][s]
        headers.append(f"{s} at {number(shared['threshold'])}")
    for g in galleries:
        row = [g]
        for s in systems:
            at = results["shared_threshold"][s]["by_gallery"].get(g)
            row.append("n/a" if at is None else
                       f"{number(at['precision'])} / {number(at['recall'])} / {number(at['false_copy_share'])}")
        rows.append(row)
    row = ["all (pooled)"]
    for s in systems:
        pooled = results["shared_threshold"][s]["pooled"]
        row.append("unreachable" if pooled is None else
                   f"{number(pooled['precision'])} / {number(pooled['recall'])} / {number(pooled['false_copy_share'])}")
    rows.append(row)
    out += [table(headers, rows), ""]
    return "\n".join(out)


def page(results: dict[str, Any]) -> str:
    """docs/copies.md: what the benchmark reads, the section, and where the details are."""
    uses = "\n".join(f"- {kind}: {what}" for kind, what in SOURCES_USED.items())
    return "\n".join([
        "# Copy detection with hard negatives",
        "",
        "Generated by `python -m bench.copies` (`make bench-copies`; also a part of `make bench`). Do not edit "
        "the numbers by hand: rerun it. Per-query details (the source's rank and score, the best non-copy's "
        "name, score and tier) are in DATA/results/copies.json, for studying the failures.",
        "",
        "## What the benchmark reads",
        "",
        "Only these packages and splits; a copy descriptor trained for lookalike must be trained on others "
        "(gnome-backgrounds, ukui / lomiri / sway wallpapers, desktop-base, openclipart categories other than "
        "animals and food, Fashion-MNIST's train split) so that this benchmark stays held out:",
        "",
        uses,
        "",
        "Edit kinds: every `lookalike.edits.EDITS` edit plus crop50-corner (half the area at a corner drawn from "
        "the source's name), border-white10 / border-black10 (10% of the short side), letterbox (black bars to "
        "16:9 or 9:16), screenshot (the picture in a window with a grey title bar on a coloured desktop) and "
        "jpeg20; `bench.copies.edits`. The galleries and queries come from "
        "`bench.copies.galleries.build(data_dir, quick)` (a list of `Gallery`: name, sources, distractors, "
        "queries of (edit, source index, JPEG bytes)); a new descriptor plugs in as a `bench.copies.Descriptor` "
        "(a name and `embed(list[PIL.Image]) -> L2-normalised rows`).",
        "",
        section(results, heading="## Results"),
        *[by_edit(results, system["name"]) for system in results["systems"]],
        worst_false_copies(results),
    ]) + "\n"


def by_edit(results: dict[str, Any], system: str) -> str:
    """recall@1 of one system, edit kind x gallery."""
    galleries = [g["name"] for g in results["galleries"]]
    edits = list(results["results"][system][galleries[0]]["recall@1_by_edit"])
    rows = [[edit] + [number(results["results"][system][g]["recall@1_by_edit"][edit], 2) for g in galleries]
            for edit in edits]
    return "\n".join([f"### {system}: recall@1 by edit kind and gallery", "", table(["edit", *galleries], rows), ""])


def worst_false_copies(results: dict[str, Any], count: int = 12) -> str:
    """The non-copies lookalike scored highest: where a hard negative passes for a copy."""
    rows = []
    for gallery, numbers in results["results"].get("lookalike", {}).items():
        rows += [(row["negative_score"] or 0.0, gallery, row) for row in numbers["details"]
                 if row["negative_tier"] in ("exact", "near-duplicate")]
    rows.sort(key=lambda r: -r[0])
    lines = ["### lookalike's highest-scored false copies", "",
             "The query, the picture that is not its source yet came first among the others, and how lookalike "
             "scored both (the full list is in copies.json):", ""]
    if not rows:
        return "\n".join(lines + ["None: lookalike called no hard negative a copy.", ""])
    lines.append(table(["gallery", "query (source/edit)", "non-copy", "its score (tier)", "source's rank, score"],
                       [[g, r["query"], r["negative"], f"{number(r['negative_score'])} ({r['negative_tier']})",
                         f"{r['rank'] or '>10'}, {number(r['source_score'])}"] for _, g, r in rows[:count]]))
    return "\n".join(lines + [""])

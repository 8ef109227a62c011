"""bench.quality's results as a Markdown section (the plots: `bench.quality.plots`).

Reads only the results dictionary `bench.quality.benchmark.measure` returns (the same that
goes to DATA/results/quality.json), so the page can be redrawn from the JSON without measuring:

    python -m bench.quality.report [--data bench-data] [--docs docs]

Every comparison sentence is written from the numbers: wherever a lookalike mode is behind
a peer, the sentence says so, in bold.
"""

from __future__ import annotations

import json

import numpy as np

from ..arguments import benchmark_parser
from ..markdown import table
from .names import KEYPOINTS, OURS, SHIPPED, TIE, edit_order, method_names, peer_names
from .plots import quality_plots


# --- the Markdown section ----------------------------------------------------------------------


def quality_section(results: dict, plots: dict[str, str]) -> str:
    parts = [
        intro(results),
        legend(results),
        targets_section(results),
        per_edit_section(results, plots),
        near_duplicate_overall_section(results, plots),
        same_object_section(results),
        fashion_section(results),
        texture_section(results),
        index_recall_section(results),
        f"![Summary of every quality benchmark]({plots['summary']})",
    ]
    return "\n\n".join(parts) + "\n"


def intro(results: dict) -> str:
    size = results["size"]
    quick = " **Quick mode: small subsets, numbers not comparable to a full run.**" if results["quick"] else ""
    return (
        "## Quality\n\n"
        f"Every method ran on the same files in the same run ({results['seconds'] / 60:.1f} minutes).{quick} "
        f"Near-duplicates: {size['n_near_duplicate_queries']} edited copies ({len(size['edits'])} edit kinds of "
        f"{size['query_sources']} real photos: scikit-image samples, OpenCV samples, MATE and Plasma wallpapers) "
        f"query a gallery of all {size['n_sources']} photos, {2 * size['n_pairs']} same-object images and "
        f"{size['n_distractors']} distractors (clipart and Tux Paint stamps flattened on white). Crops named "
        "`cropN` keep N% of each side, `crop-areaN` N% of the area; `-any` crops are cut at a position drawn per "
        "photo; `paste-area50` cuts half the picture's area from anywhere and pastes it, scaled to cover 30% of the "
        "host, into a photo that is not in the gallery. "
        f"Same object: {2 * size['n_pairs']} queries, one per image of {size['n_pairs']} pairs, in that gallery. "
        f"Fashion-MNIST: {size['n_fashion_queries']} queries spread over a gallery of the first "
        f"{size['n_fashion']} of the 10,000 test images. Texture: {size['n_texture_patches']} patches of "
        f"{size['textures']} textures, every third one turned by 30-90 degrees. Data: `bench/data/`; raw numbers: "
        "`results/quality.json` in the data folder."
    )


def legend(results: dict) -> str:
    rows = [[f"`{m['name']}`", m["description"], "-" if m["threshold"] is None else f"{m['threshold']:.3f}"]
            for m in results["methods"]]
    return "Methods (scores are similarities in [0, 1]; Hamming methods: 1 - differing bits / bits):\n\n" + table(
        ["method", "what it is", "own threshold"], rows)


def targets_section(results: dict) -> str:
    """Issue 7's targets: met or not, for both shipped modes."""
    rows = []
    for target in results["targets"]:
        cells = []
        for mode in SHIPPED:
            outcome = target["results"][mode]
            met = "" if outcome["met"] is None else " (met)" if outcome["met"] else " (**not met**)"
            cells.append(outcome["text"] + met)
        rows.append([target["name"], target["goal"], *cells])
    return (
        "### Targets\n\n"
        "The goals set for crops and other viewpoints (local features), for the default search and for "
        "`--rerank keypoints`.\n\n"
        + table(["target", "goal", f"`{OURS}`", f"`{KEYPOINTS}`"], rows)
    )


def per_edit_section(results: dict, plots: dict[str, str]) -> str:
    names, edits = method_names(results), edit_order(results)
    near = results["near_duplicates"]
    rows = []
    for edit in edits:
        values = {name: near[name]["recall_at_1_by_edit"][edit] for name in names}
        rows.append([edit] + [bold_if_best(values, name, 2) for name in names])
    return (
        "### Near-duplicates: recall@1 per edit\n\n"
        "Share of edited copies whose original is the first result (best per row in bold).\n\n"
        + table(["edit"] + [f"`{n}`" for n in names], rows)
        + "\n\n" + per_edit_verdict(results)
        + f"\n\n![Recall@1 per edit and method]({plots['per_edit']})"
    )


def per_edit_verdict(results: dict) -> str:
    near, edits, peers = results["near_duplicates"], edit_order(results), peer_names(results)
    sentences = []
    for mode in SHIPPED:
        wins, ties, losses = [], [], []
        for edit in edits:
            ours = near[mode]["recall_at_1_by_edit"][edit]
            values = {name: near[name]["recall_at_1_by_edit"][edit] for name in peers}
            best = max(values.values())
            ahead = sorted(((n, v) for n, v in values.items() if v > ours + TIE), key=lambda item: -item[1])
            if ahead:
                losses.append(f"{edit} ({ours:.2f}; " + ", ".join(f"{n} {v:.2f}" for n, v in ahead) + ")")
            elif ours > best + TIE:
                wins.append(edit)
            else:
                ties.append(edit)
        sentence = (f"`{mode}` is ahead of every peer on {len(wins)} of {len(edits)} edits and level with the best "
                    f"peer on {len(ties)}. ")
        sentence += (f"**It is behind a peer on {len(losses)}: " + "; ".join(losses) + ".**") if losses else \
            "No peer beats it on any edit."
        sentences.append(sentence)
    return "\n\n".join(sentences + [versus_hash_libraries(results)])


def versus_hash_libraries(results: dict) -> str:
    """How lookalike fares per edit against the best of ImageHash and imagededup."""
    near, edits = results["near_duplicates"], edit_order(results)
    libraries = [name for name in method_names(results) if name.startswith(("IH-", "idd-"))]
    ahead = behind = 0
    for edit in edits:
        ours = near[OURS]["recall_at_1_by_edit"][edit]
        best = max(near[name]["recall_at_1_by_edit"][edit] for name in libraries)
        ahead += ours > best + TIE
        behind += ours < best - TIE
    return (f"Against the best hash of ImageHash or imagededup on each edit, `{OURS}` is ahead on {ahead} edits, "
            f"level on {len(edits) - ahead - behind} and behind on {behind}.")


def near_duplicate_overall_section(results: dict, plots: dict[str, str]) -> str:
    names, near = method_names(results), results["near_duplicates"]
    columns = {
        "mAP": {n: near[n]["map"] for n in names},
        "recall@1": {n: near[n]["recall_at_1"] for n in names},
        "recall@10": {n: near[n]["recall_at_10"] for n in names},
        "best F1": {n: near[n]["best_f1"]["f1"] for n in names},
        "F1 at own threshold": {n: (near[n]["own_threshold"] or {}).get("f1", float("nan")) for n in names},
    }
    rows = []
    for name in names:
        best, own = near[name]["best_f1"], near[name]["own_threshold"]
        rows.append([f"`{name}`", *(bold_if_best(columns[c], name, 3) for c in ("mAP", "recall@1", "recall@10",
                                                                              "best F1")),
                     f"{best['threshold']:.3f}", f"{best['precision']:.3f} / {best['recall']:.3f}",
                     "-" if own is None else bold_if_best(columns["F1 at own threshold"], name, 3)])
    depth = results["depths"]["near_duplicates"]
    return (
        "### Near-duplicates: ranking, and one threshold for copies\n\n"
        f"mAP and recall over all {results['size']['n_near_duplicate_queries']} queries (the original ranked "
        f"below {depth} counts as missed). Copy verification: each query's {depth} results are scored pairs, copy "
        "or not; the best F1 is over every global score threshold (precision / recall at that threshold), next "
        "to the F1 at the threshold the method ships.\n\n"
        + table(["method", "mAP", "recall@1", "recall@10", "best F1", "at score >=", "P / R there",
                 "F1 at own threshold"], rows)
        + "\n\n" + verdicts(columns, peer_names(results))
        + f"\n\n![Precision-recall of copy verification]({plots['copy_threshold']})"
    )


def same_object_section(results: dict) -> str:
    names, same = method_names(results), results["same_object"]
    columns = {f"recall@{k}": {n: same[n]["recall_at"][k] for n in names} for k in ("1", "5", "10")}
    columns["mAP"] = {n: same[n]["map"] for n in names}
    depth = results["depths"]["same_object"]
    missed = []
    for query in same[OURS]["partner_rank"]:
        ranks = [same[mode]["partner_rank"][query] for mode in SHIPPED]
        if any(rank != 1 for rank in ranks):
            missed.append(f"{query} (rank " + ", ".join(f">{depth}" if r is None else str(r) for r in ranks) + ")")
    section = metric_section(
        "### Same object, another viewpoint",
        "Each image of a pair (OpenCV samples: graffiti and Leuven series, box in a scene, aerial views, stereo "
        "pairs, video frames; scikit-image's stereo motorcycle) queries the photo gallery for its partner.",
        names, columns, peer_names(results))
    if missed:
        section += (f"\n\nQueries whose partner is not first for `{OURS}` or `{KEYPOINTS}` (their ranks, in that "
                    "order): " + "; ".join(missed) + ".")
    return section


def fashion_section(results: dict) -> str:
    names, fashion = method_names(results), results["fashion"]
    columns = {"mAP@10": {n: fashion[n]["map_at_10"] for n in names},
               "precision@10": {n: fashion[n]["precision_at_10"] for n in names}}
    return metric_section(
        "### Labelled similarity: Fashion-MNIST",
        "Hits are gallery images of the query's class (the query itself excluded); 28 x 28 grey images, so "
        "this measures look-alike ranking, not copy detection.", names, columns, peer_names(results))


def texture_section(results: dict) -> str:
    names, texture = method_names(results), results["texture"]
    columns = {"mAP": {n: texture[n]["map"] for n in names},
               "mAP, turned queries": {n: texture[n]["map_turned_queries"] for n in names},
               "precision@1": {n: texture[n]["precision_at_1"] for n in names}}
    return metric_section(
        "### Texture",
        "Hits are the other patches of the query's texture (brick, grass, gravel, meadow, wood, moss, facade, "
        "cups, leaf); the turned patches test the rotation-invariant LBP features. The texture re-ranking stage "
        "(`--rerank texture`) is not in this table: it is a classifier trained on a collection's labels, so it "
        "can only be measured on images it did not train on; `bench/train/` does that on these same "
        "patches (and on harder grey and tea-heap sets), see [the texture re-ranker benchmark](training.md#benchmark).",
        names, columns, peer_names(results))


def metric_section(title: str, explanation: str, names: list[str], columns: dict[str, dict[str, float]],
                   peers: list[str]) -> str:
    rows = [[f"`{name}`"] + [bold_if_best(values, name, 3) for values in columns.values()] for name in names]
    return f"{title}\n\n{explanation}\n\n" + table(["method", *columns], rows) + "\n\n" + verdicts(columns, peers)


def index_recall_section(results: dict) -> str:
    rows = []
    for suite, entry in results["index_recall"].items():
        at_k = f"recall_at_{entry['k']}"
        for index_name, values in entry["rows"].items():
            rows.append([index_name, suite, str(entry["gallery"]), str(entry["queries"]),
                         f"{values['recall_at_1']:.3f}", f"{values[at_k]:.3f}"])
    return (
        "### Approximate index vs exact search\n\n"
        "Share of the exact top-k (cosine over every EfficientNet-Lite0 vector in numpy, the `CNN-exact` rankings) "
        "that each approximate index returns for the same queries. lookalike itself searches exactly (FAISS "
        "`Flat`) up to 50,000 images, so every lookalike number above is free of index error; its "
        "large-collection index is forced on here where the gallery allows it.\n\n"
        + table(["index", "gallery", "images", "queries", "recall@1", "recall@10"], rows)
        + "\n\n" + index_recall_verdict(results)
    )


def index_recall_verdict(results: dict) -> str:
    fashion = results["index_recall"].get("fashion", {}).get("rows", {})
    ours = next((values for name, values in fashion.items() if name.startswith("lookalike")), None)
    annoy = fashion.get("Annoy, 10 trees")
    if not ours or not annoy:
        return "The gallery is too small here for lookalike's approximate index."
    key = next(k for k in ours if k != "recall_at_1")
    numbers = f"({ours[key]:.3f} vs {annoy[key]:.3f} at k=10)"
    if ours[key] < annoy[key] - TIE:
        return f"**On Fashion-MNIST, lookalike's large-collection index has lower recall than Annoy {numbers}.**"
    if ours[key] > annoy[key] + TIE:
        return f"On Fashion-MNIST, lookalike's large-collection index has higher recall than Annoy {numbers}."
    return f"On Fashion-MNIST, lookalike's large-collection index has the same recall as Annoy {numbers}."


# --- sentences and tables ----------------------------------------------------------------------


def verdicts(columns: dict[str, dict[str, float]], peers: list[str]) -> str:
    return " ".join(filter(None, (verdict(metric, values, peers) for metric, values in columns.items())))


def verdict(metric: str, values: dict[str, float], peers: list[str]) -> str:
    """One honest sentence: each shipped lookalike mode against every peer on one metric."""
    others = {name: values[name] for name in peers if not np.isnan(values[name])}
    if not others:
        return ""
    best = max(others, key=others.__getitem__)
    parts = []
    for mode in SHIPPED:
        ours = values.get(mode, float("nan"))
        if np.isnan(ours):
            continue
        ahead = sorted(((n, v) for n, v in others.items() if v > ours + TIE), key=lambda item: -item[1])
        if ahead:
            parts.append(f"**`{mode}` {ours:.3f} is behind " + ", ".join(f"{n} ({v:.3f})" for n, v in ahead) + "**")
        else:
            parts.append(f"`{mode}` {ours:.3f} {'leads' if ours > others[best] + TIE else 'ties'}")
    return f"{metric}: " + "; ".join(parts) + f" (best peer: {best}, {others[best]:.3f})."


def bold_if_best(values: dict[str, float], name: str, digits: int) -> str:
    value = values[name]
    if np.isnan(value):
        return "-"
    text = f"{value:.{digits}f}"
    best = max(v for v in values.values() if not np.isnan(v))
    return f"**{text}**" if round(value, digits) == round(best, digits) else text


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.quality.report", "redraw the quality section and plots from quality.json",
                              quick=None)
    args = parser.parse_args(argv)
    results = json.loads((args.data / "results" / "quality.json").read_text())
    print(quality_section(results, quality_plots(results, args.docs)))


if __name__ == "__main__":
    main()

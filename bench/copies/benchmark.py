"""Issue 15, point 1: copy detection against hard negatives, every distractor of the same
kind as the sources (product shots, clipart, wallpapers of one family, frames of one video,
patches of the same photos).

    python -m bench.copies [--data bench-data] [--docs docs] [--quick]

Systems: lookalike as shipped and the raw EfficientNet-Lite0 cosine (`bench.copies.systems`;
another `Descriptor` plugs in through `run(..., descriptors=[...])`). Raw numbers and the
per-query details go to DATA/results/copies.json; the page to DOCS/copies.md; `run` returns
the section `python -m bench.run` puts in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

from ..arguments import benchmark_parser
from ..results import write_json
from .galleries import GALLERY_NAMES
from .card import AFTER, BEFORE, card
from .measure import measure
from .report import page, section
from .systems import Descriptor, default_systems


def run(data_dir: Path, docs_dir: Path, quick: bool = False, descriptors: Sequence[Descriptor] = (),
        names: Sequence[str] = GALLERY_NAMES) -> str:
    """Measure, write the JSON and docs/copies.md, return the Markdown section."""
    started = time.perf_counter()
    systems = default_systems(descriptors)
    try:
        results = measure(systems, quick, names)
    finally:
        for system in systems:
            system.close()
    results["seconds"] = round(time.perf_counter() - started)
    write_json(results, Path(data_dir) / "results" / "copies.json")
    return render(results, docs_dir)


def render(results: dict, docs_dir: Path) -> str:
    """docs/copies.md and (after a full run with both lookalike systems) the model card
    docs/copy-descriptor.md; returns the section for docs/benchmarks.md."""
    Path(docs_dir).mkdir(parents=True, exist_ok=True)
    (Path(docs_dir) / "copies.md").write_text(page(results))
    if {BEFORE, AFTER} <= set(results["results"]) and not results["quick"]:
        (Path(docs_dir) / "copy-descriptor.md").write_text(card(results))
    return section(results)


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.copies", __doc__.split("\n\n")[0])
    parser.add_argument("--gallery", action="append", choices=list(GALLERY_NAMES),
                        help="measure only this gallery (repeatable)")
    parser.add_argument("--render", action="store_true",
                        help="write the pages again from the last run's DATA/results/copies.json, measuring nothing")
    args = parser.parse_args(argv)
    if args.render:
        text = render(json.loads((args.data / "results" / "copies.json").read_text()), args.docs)
    else:
        text = run(args.data, args.docs, quick=args.quick, names=tuple(args.gallery or GALLERY_NAMES))
    (args.data / "results" / "copies.md").write_text(text)  # the section `python -m bench.run` keeps
    print(text)

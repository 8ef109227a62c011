"""Issue 7's targets, measured: crops anywhere, pastes, the same object from another angle,
no loss on other edits, and what the keypoint stage costs (indexing and query time).

    .venv/bin/python -m bench.crops [--data bench-data] [--out bench-data/results/crops.json] [--quick]

Gallery: the benchmark's real photos (`bench-data/sources`), the first view of every
same-object pair (`bench-data/pairs/*-a.*`) and of OpenCV's 13 stereo chessboard pairs
(left*.jpg), and `--distractors` clipart images. Queries (written under the data folder's
`crops/`, positions seeded by file name):

- crop50-any / crop30-any: a window of 50% / 30% of the area at a seeded random place;
- paste30: a 30%-area cut of a photo pasted onto a host photo outside the gallery;
- viewpoint: the second view of every pair (graf, leuven, box/box_in_scene, aloe, books...);
- stereo-chessboard: OpenCV's 13 stereo pairs (right -> left), all of one chessboard;
- edits: every `lookalike.edits.EDITS` edit of a few photos (no loss allowed).

Each query runs against two stores (the default features; the same plus `--regions`
regional embeddings), each without and with `--rerank keypoints` (features precomputed as
`index --keypoints` does), one right after the other. Reported: recall@1, the share with
the right tier at rank 1, latency p50/p90 of the whole search and the keypoint stage's own
cost (median paired difference, wall and CPU); per store the indexing seconds, vectors and
index bytes per image, and what describing keypoints adds.
"""

from __future__ import annotations

from pathlib import Path

from ..arguments import benchmark_parser
from ..data import DEFAULT_DATA_DIR, prepare
from ..results import write_json
from .measure import measure
from .report import render


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m bench.crops", __doc__.split("\n\n")[0], docs=False)
    parser.add_argument("--out", type=Path, default=DEFAULT_DATA_DIR / "results" / "crops.json")
    parser.add_argument("--distractors", type=int, default=100)
    parser.add_argument("--regions", type=int, default=5, help="windows per image for the regions rows (0: skip them)")
    args = parser.parse_args(argv)
    prepare(args.data, quick=args.quick)  # idempotent: reuses what is already there
    results = measure(args.data, args.quick, args.distractors, args.regions)
    write_json(results, args.out)
    print(render(results))

"""The quality part of `make bench`: retrieval and verification quality of lookalike and its
peers on real images (`python -m bench.quality`).

- `suites`: the galleries and the queries against them, from `bench.data`;
- `metrics`: each method's rankings -> the numbers (`lookalike.ranking_metrics`);
- `benchmark`: runs every method (`bench.peers`) on every suite, writes
  DATA/results/quality.json, returns the Markdown section;
- `report`, `plots`: that section and its plots, from the results alone; `names`: the mode
  names both sides share.
"""

"""Benchmarks of lookalike against the tools people use today (`make bench`).

Commands (each `python -m bench.NAME --help`):

- `bench.run`: `make bench`, the quality, speed and copies parts assembled into docs/benchmarks.md;
- `bench.quality`, `bench.speed`: one part each; `bench.scale`: the one-machine figures alone
  (`make bench-scale`); `bench.crops`: crops, pastes and other views (`make bench-crops`);
  `bench.copies`: copy detection against hard negatives (`make bench-copies`, docs/copies.md);
  `bench.train`: what training buys (`make bench-train`); `bench.sizing`: Milvus sizing.

Layers, each importing only from the ones below it (tests/test_import_graph.py checks that
no module imports in a circle):

- the benchmarks: `quality/`, `speed/` (which includes `scale/`'s figures), `scale/`,
  `crops/`, `copies/`, `train/`; in each, `benchmark` measures and `report` (and `plots`) only turn
  result dictionaries into Markdown and PNGs;
- `timing/`: what the speed and scale benchmarks time, each run in a child process, and
  the test images and synthetic stores they run on;
- shared: `data/` (data sets from Debian packages), `peers` (every measured method behind
  one interface), `child_process` (a function in a fresh interpreter, its peak RSS),
  `imagededup_hashing`, `machine`, `markdown`, `results`.

Timings inside lookalike come from its own stats hooks (`lookalike.stats`: `search(...,
stats=)`, `find_duplicates(..., stats=)`), never from patching its functions.
"""

"""The speed part of `make bench`: indexing throughput, query latency, `duplicates`, store
size and memory, next to ImageHash and imagededup (`python -m bench.speed`).

- `benchmark`: runs the timed measurements of `bench.timing` and the one-machine figures of
  `bench.scale`, writes DATA/results/speed.json, returns the Markdown section;
- `report`, `plots`: that section and its plots, from the results alone.
"""

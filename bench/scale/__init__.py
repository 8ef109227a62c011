"""A million images on one machine (`make bench-scale`, `python -m bench.scale`).

- `tasks`: its own timed runs (the scan against every pair within reach, single writes);
- `measure`: the figures, from the speed run's stores and results (`bench.speed` calls it);
- `report`: the Markdown subsection, from the results alone;
- `benchmark`: the command, measuring only what the figures need (`bench.timing`).
"""

"""The startup part of `make bench` (issue 20): how long the commands that need no model
take to start next to a bare `import numpy, PIL.Image`, a cold `lookalike search` on a
store of 10,000 images, and cached thumbnails from `lookalike serve` (`python -m bench.startup`).

- `benchmark`: the plan, the measurements in order, DATA/results/startup.json and .md;
- `commands`: fresh processes timed, with their bytecode cached in the data dir;
- `gallery`: the small store of real photos in large JPEGs (`info`, `remove`, `serve`);
- `thumbnails`: a real `lookalike serve` and its thumbnails' request times;
- `report`: the targets' verdicts and the Markdown section, from the results alone.
"""

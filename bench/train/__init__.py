"""What `lookalike train` buys on real data (`make bench-train`, `python -m bench.train`):
before/after tables for docs/training.md.

- `datasets`: Fashion-MNIST, real photos, look-alike textures (from `bench.data`);
- `benchmark`: trains and measures each, keeps raw numbers under DATA/results/training/;
- `section`: one data set's results; `report`: its tables, into docs/training.md.
"""

"""Benchmarks of lookalike against the tools people use today (`make bench`).

- `bench.data`: the benchmark images, prepared idempotently from Debian packages and
  scikit-image's bundled samples (real photos, edited copies, distractors, Fashion-MNIST,
  same-object pairs, texture patches);
- `bench.peers`: every measured method behind one interface;
- `bench.quality`: retrieval and verification quality, as a Markdown section;
- `bench.speed`: speed and memory;
- `bench.run`: both, assembled into docs/benchmarks.md.
"""

"""What the speed and scale benchmarks time, and what they time it on.

- `plan`: how much one run measures (`FULL`, `QUICK`) and the names the runs share;
- `images`: test images made from real photos in Debian packages;
- `synthetic`, `stores`: stores of up to a million items (synthetic vectors modelled on
  the real photos), built once and reused;
- `indexing`, `latency`, `duplicates`: the timed runs, each a `task_*` function that
  `bench.child_process.run_child` runs in a fresh interpreter (its peak RSS its own);
- `layout`, `log`: where the work folder keeps things; progress lines.

Nothing here writes Markdown: `bench.speed` and `bench.scale` turn the results into pages.
"""

"""`python -m bench.scale`: see `bench.scale.benchmark`."""

from .benchmark import main

main()

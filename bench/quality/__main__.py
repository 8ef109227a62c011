"""`python -m bench.quality`: see `bench.quality.benchmark`."""

from .benchmark import main

main()

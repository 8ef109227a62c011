"""`python -m bench.startup`: see `bench.startup.benchmark`."""

from .benchmark import main

main()

"""`python -m bench.crops`: see `bench.crops.benchmark`."""

from .benchmark import main

main()

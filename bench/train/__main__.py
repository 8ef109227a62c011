"""`python -m bench.train`: see `bench.train.benchmark`."""

from .benchmark import main

main()

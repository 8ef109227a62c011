"""`python -m bench.speed`: see `bench.speed.benchmark`."""

from .benchmark import main

main()

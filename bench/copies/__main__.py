"""`python -m bench.copies`: see `bench.copies.benchmark`."""

from .benchmark import main

main()

"""`python -m lookalike ...`: the `lookalike` command."""

from .cli import main

main(prog_name="lookalike")

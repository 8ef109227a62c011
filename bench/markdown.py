"""Markdown pieces the benchmark reports share."""

from __future__ import annotations


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: the header, the rule, one line per row (no newline after the last)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] * len(headers)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def yes_no(met: bool | None) -> str:
    """A target's "met" cell: **yes**, **no**, or n/a when it could not be measured."""
    return "n/a" if met is None else ("**yes**" if met else "**no**")

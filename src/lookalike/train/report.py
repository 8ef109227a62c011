"""Before/after tables: one row per metric, one column per method, for the terminal
(aligned text) and for docs (Markdown). Shared by `lookalike train` and the benchmark."""

from __future__ import annotations

from typing import Mapping, Sequence

Columns = Mapping[str, Mapping[str, float]]  # method -> metric -> value


def comparison_rows(columns: Columns, change: bool = True) -> tuple[list[str], list[list[str]]]:
    """(header, rows). With `change`, a last column: the last method minus the first."""
    methods = list(columns)
    metrics = list(next(iter(columns.values())))
    header = ["metric", *methods] + (["change"] if change and len(methods) > 1 else [])
    rows = []
    for metric in metrics:
        values = [columns[method].get(metric) for method in methods]
        row = [metric] + [f"{value:.4f}" if value is not None else "-" for value in values]
        if change and len(methods) > 1 and values[0] is not None and values[-1] is not None:
            row.append(f"{values[-1] - values[0]:+.4f}")
        rows.append(row)
    return header, rows


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(header)] + [list(row) for row in rows]
    widths = [max(len(row[i]) if i < len(row) else 0 for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)

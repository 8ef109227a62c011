"""PNG pictures of an evaluation, drawn with Pillow (no plotting library needed):
the precision-recall curve of the same/different verdict, and example queries with
their top results."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

from .evaluate import EvaluationReport
from .records import ImageRecord

_FONT = ImageFont.load_default(size=14)
_SMALL = ImageFont.load_default(size=12)
_GREEN, _RED, _BLUE, _GREY = (34, 139, 34), (200, 40, 40), (30, 90, 200), (120, 120, 120)


def draw_precision_recall(report: EvaluationReport, path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """Precision (y) against recall (x) over every threshold, the collection's current
    thresholds and the best-F1 point marked."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 60, 30, size[0] - 20, size[1] - 50

    def at(recall: float, precision: float) -> tuple[float, float]:
        return left + recall * (right - left), bottom - precision * (bottom - top)

    for tick in range(0, 11, 2):
        value = tick / 10
        draw.line([at(value, 0), at(value, 1)], fill=(235, 235, 235))
        draw.line([at(0, value), at(1, value)], fill=(235, 235, 235))
        draw.text((at(value, 0)[0] - 8, bottom + 6), f"{value:.1f}", fill="black", font=_SMALL)
        draw.text((left - 32, at(0, value)[1] - 7), f"{value:.1f}", fill="black", font=_SMALL)
    draw.rectangle([left, top, right, bottom], outline="black")
    curve = report.curve
    points = [at(r, p) for r, p in zip(curve.recall.tolist(), curve.precision.tolist())]
    if len(points) > 1:
        draw.line(points, fill=_BLUE, width=2)
    best_threshold, best_p, best_r, best_f1 = curve.best_f1()
    marks = [(best_r, best_p, _GREEN, f"best F1 {best_f1:.3f} at threshold {best_threshold:.3f}")]
    for name, threshold in report.thresholds.items():
        precision, recall = report.at_threshold(threshold)
        marks.append((recall, precision, _RED, f"{name} {threshold:.2f}: precision {precision:.3f}, recall {recall:.3f}"))
    for line, (recall, precision, colour, text) in enumerate(marks):
        x, y = at(recall, precision)
        draw.ellipse([x - 5, y - 5, x + 5, y + 5], outline=colour, width=2)
        legend_y = bottom - 22 * (len(marks) - line)
        draw.ellipse([left + 10, legend_y + 3, left + 20, legend_y + 13], outline=colour, width=2)
        draw.text((left + 28, legend_y), text, fill=colour, font=_SMALL)
    draw.text((left + 90, 6), "same/different verdict: precision vs recall", fill="black", font=_FONT)
    draw.text(((left + right) // 2 - 20, size[1] - 24), "recall", fill="black", font=_FONT)
    draw.text((6, top - 20), "precision", fill="black", font=_FONT)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def draw_examples(
    report: EvaluationReport,
    load: Callable[[ImageRecord], Image.Image],
    path: Path,
    cell: int = 128,
) -> Path:
    """One row per example query: the query, then its top results framed green (same
    label) or red (other label), each with its score and label."""
    columns = 1 + max((len(e.results) for e in report.examples), default=0)
    sheet = Image.new("RGB", (columns * (cell + 8) + 8, len(report.examples) * (cell + 40) + 8), "white")
    draw = ImageDraw.Draw(sheet)
    for row, example in enumerate(report.examples):
        y = 8 + row * (cell + 40)
        cells = [(example.query, None, None)] + example.results
        for column, (record, score, same) in enumerate(cells):
            x = 8 + column * (cell + 8)
            thumb = load(record)
            thumb.thumbnail((cell, cell))
            sheet.paste(thumb, (x + (cell - thumb.width) // 2, y + (cell - thumb.height) // 2))
            colour = _GREY if same is None else (_GREEN if same else _RED)
            draw.rectangle([x - 2, y - 2, x + cell + 1, y + cell + 1], outline=colour, width=3)
            caption = "query" if score is None else f"{score:.3f}"
            draw.text((x, y + cell + 4), f"{caption} {record.label or ''}"[:20], fill=colour, font=_SMALL)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path

"""Raw results on disk: DATA/results/NAME.json, the numbers every report is written from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def json_safe(value: Any) -> Any:
    """Integer dict keys (sizes) become strings, as JSON will make them anyway."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json(results: dict, path: Path) -> None:
    """The results as indented JSON (numpy scalars as floats), parents made as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=float) + "\n")

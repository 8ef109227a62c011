"""bench.video end to end in quick mode on a scratch data folder: a real 12-second video is
made, sampled, indexed and searched, and the section states the cost per minute of video.
No timing is asserted here: the benchmark reports it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("av", reason="videos need PyAV: pip install 'lookalike[video]'")

try:
    from bench import video
except ModuleNotFoundError:  # `pytest` run without the repository root on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench import video


def test_quick_run_measures_the_cost_per_minute_of_video(tmp_path):
    section = video.run(tmp_path / "data", tmp_path / "docs", quick=True)
    results = json.loads((tmp_path / "data" / "results" / "video.json").read_text())
    (clip,) = results["clips"]
    assert clip["frames_kept"] >= clip["seconds"] - 1 and clip["indexing_s_per_minute"] > 0
    assert clip["found_tier"] == "near-duplicate" and abs(clip["found_time_s"] - clip["query_time_s"]) <= 1.0
    assert section.startswith("## Video") and f"**{clip['indexing_s_per_minute']:.1f} s**" in section
    assert (tmp_path / "data" / "results" / "video.md").read_text() == section

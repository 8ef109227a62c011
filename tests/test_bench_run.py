"""bench.run assembles docs/benchmarks.md: measuring one part keeps the others' sections."""

import argparse

from bench import run


def test_a_part_not_measured_keeps_its_published_section(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "benchmarks.md").write_text(
        "# Benchmarks\n\n- Run: then\n\n## Quality\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## Speed\n\nold speed\n"
    )
    args = argparse.Namespace(data=tmp_path / "data", docs=docs, quick=True)

    quality = run.part_section("quality", args, measure=False)

    assert quality.startswith("## Quality\n")
    assert "| 1 | 2 |" in quality
    assert "## Speed" not in quality


def test_saved_results_win_over_the_published_page(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "benchmarks.md").write_text("# Benchmarks\n\n## Speed\n\nold speed\n")
    saved = tmp_path / "data" / "results" / "speed.md"
    saved.parent.mkdir(parents=True)
    saved.write_text("## Speed\n\nnew speed\n")
    args = argparse.Namespace(data=tmp_path / "data", docs=docs, quick=True)

    assert run.part_section("speed", args, measure=False) == "## Speed\n\nnew speed\n"


def test_a_part_never_measured_says_how_to_measure_it(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "benchmarks.md").write_text("# Benchmarks\n\n## Speed\n\nNot measured yet: `x`.\n")
    args = argparse.Namespace(data=tmp_path / "data", docs=docs, quick=True)

    assert "python -m bench.run --only quality" in run.part_section("quality", args, measure=False)
    assert "--only speed" in run.part_section("speed", args, measure=False)


def test_a_heading_that_says_more_is_still_the_part_s_section(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "benchmarks.md").write_text("# Benchmarks\n\n## Speed and memory\n\nold speed\n\n## Copies\n\ncopies\n")
    args = argparse.Namespace(data=tmp_path / "data", docs=docs, quick=True)

    assert run.part_section("speed", args, measure=False) == "## Speed and memory\n\nold speed\n"
    assert run.part_section("copies", args, measure=False) == "## Copies\n\ncopies\n"

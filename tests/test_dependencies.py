"""Every dependency is bounded above, and the installed versions are inside the bounds.

A dependency without an upper bound lets a new release reach a fresh install before the
test suite has seen it (milvus-lite 3.x did: a rewrite that broke reopening a store).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, requires, version

import pytest
from packaging.requirements import Requirement


def lookalike_requirements() -> list[Requirement]:
    return [Requirement(line) for line in requires("lookalike") or []]


def test_every_requirement_has_an_upper_bound() -> None:
    unbounded = [str(r) for r in lookalike_requirements()
                 if not any(spec.operator in ("<", "<=", "==", "~=") for spec in r.specifier)]
    assert not unbounded, f"add a tested upper bound to: {', '.join(unbounded)}"


@pytest.mark.parametrize("requirement", lookalike_requirements(), ids=str)
def test_installed_versions_are_inside_the_bounds(requirement: Requirement) -> None:
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        pytest.skip(f"{requirement.name} not installed (extra {requirement.marker})")
    assert requirement.specifier.contains(installed, prereleases=True), (requirement.name, installed)

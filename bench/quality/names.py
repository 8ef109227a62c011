"""The names of lookalike's modes among the quality benchmark's methods, what counts as a tie,
and the methods and edits a results dictionary holds, in order."""

from __future__ import annotations

OURS = "lookalike"
KEYPOINTS = "lookalike-keypoints"
SHIPPED = (OURS, KEYPOINTS)  # the modes a user runs; lookalike-hashes is an ablation
TIE = 0.005  # differences below this are reported as ties


def method_names(results: dict) -> list[str]:
    return [method["name"] for method in results["methods"]]


def peer_names(results: dict) -> list[str]:
    return [name for name in method_names(results) if not name.startswith(OURS)]


def edit_order(results: dict) -> list[str]:
    return list(results["size"]["edits"])

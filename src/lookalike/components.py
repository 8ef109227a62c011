"""Connected components of linked pairs (union-find): duplicate groups of pictures
(`dedup`) and of videos (`sequences`) are the components of their linked pairs."""

from __future__ import annotations

from typing import Iterable


def connected_components(pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Each component's members, sorted; a node that appears in no pair is in none."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for left, right in pairs:
        a, b = root(left), root(right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    return [sorted(members) for members in groups.values()]

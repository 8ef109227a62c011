"""No module of lookalike or bench imports itself in a circle.

Every module under src/lookalike and bench is parsed with `ast` (nothing is imported) and
every import in it counts: at module level, inside functions, under TYPE_CHECKING. An
import of `a.b.c` also runs the packages `a` and `a.b` first, so it depends on them too
(unless they are the importer's own packages, which Python is importing already).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"lookalike": REPO / "src" / "lookalike", "bench": REPO / "bench"}

def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of every root (a package is its __init__)."""
    modules = {}
    for name, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            parts = [name, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every dotted name the module imports, relative imports resolved; `from x import y`
    names x.y when that is a module, else x (y is a name defined in x)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                         for alias in node.names)
    return names


def project_module(name: str, modules: dict[str, Path]) -> str | None:
    """The project module a dotted name lands in (the longest prefix that is one), if any."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def with_packages(target: str, importer: str) -> set[str]:
    """`target` and the packages above it that importing it runs, bar the importer's own
    (names only: a folder without __init__.py is no module)."""
    parts = target.split(".")
    chain = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    own = {".".join(importer.split(".")[:n]) for n in range(1, len(importer.split(".")) + 1)}
    return (chain - own) | {target}


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (directly), over both roots."""
    modules = module_files()
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in modules.items():
        for name in imported_names(module, path, modules):
            target = project_module(name, modules)
            if target is not None and target != module:
                graph[module] |= {t for t in with_packages(target, module) if t in modules} - {module}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The graph's circles: strongly connected components of more than one module
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def one_circle(graph: dict[str, set[str]], component: frozenset[str]) -> list[str]:
    """A shortest circle through the component's first module, for the failure message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & component):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    return sorted(component)


def describe(graph: dict[str, set[str]], components: list[frozenset[str]]) -> str:
    return "\n".join(" -> ".join(one_circle(graph, component)) for component in components)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def cycles_in(graph: dict[str, set[str]], root: str) -> list[frozenset[str]]:
    return [c for c in strongly_connected(graph) if all(m == root or m.startswith(f"{root}.") for m in c)]


def test_the_graph_sees_every_kind_of_import(graph: dict[str, set[str]]) -> None:
    """Relative, absolute, function-level and `from package import module` imports all land."""
    assert "bench.child_process" in graph["bench.speed.benchmark"]  # from ..child_process import run_child
    assert "bench.timing.plan" in graph["bench.timing.images"]  # from .plan import Plan
    assert "lookalike.stats" in graph["lookalike.search"]
    assert "lookalike.features.registry" in graph["bench.sizing"]  # absolute
    assert "lookalike.stats" in graph["bench.timing.latency"]  # inside a function
    assert "lookalike.query" in graph["lookalike.stats"]  # under TYPE_CHECKING
    assert "bench.data" in graph["bench.train.datasets"]  # from .. import data
    assert "bench.data" in graph["bench.crops.queries"]  # the package bench.data.packages is in


def test_no_module_of_bench_imports_in_a_circle(graph: dict[str, set[str]]) -> None:
    cycles = cycles_in(graph, "bench")
    assert not cycles, "bench imports in a circle:\n" + describe(graph, cycles)


def test_bench_packages_do_not_import_each_other_in_a_circle(graph: dict[str, set[str]]) -> None:
    """bench's subpackages (and top-level modules) as single nodes: layers, no circle."""
    def unit(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if module.startswith("bench."):
            packages.setdefault(unit(module), set()).update(
                unit(t) for t in targets if t.startswith("bench.") and unit(t) != unit(module))
    cycles = strongly_connected(packages)
    assert not cycles, "bench's packages import each other in a circle:\n" + describe(packages, cycles)


def test_no_module_of_lookalike_imports_in_a_circle(graph: dict[str, set[str]]) -> None:
    """(The last circle, the feature registry <-> the extractor modules, went when the
    registry began to list the built-in extractors itself.)"""
    cycles = cycles_in(graph, "lookalike")
    assert not cycles, "lookalike imports in a circle:\n" + describe(graph, cycles)


def test_lookalike_never_imports_bench(graph: dict[str, set[str]]) -> None:
    leaks = {m: sorted(t for t in targets if t.startswith("bench")) for m, targets in graph.items()
             if m.startswith("lookalike") and any(t.startswith("bench") for t in targets)}
    assert not leaks

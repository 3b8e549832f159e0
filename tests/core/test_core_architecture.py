"""The architecture contract, independently of import-linter's configuration: no cycle between the
top-level packages of ``credgate``, counting every import grimp finds (inside functions and under
``TYPE_CHECKING`` too, which are dependencies all the same).

The layers and the declared interfaces between features are checked by ``lint-imports``
(``pyproject.toml``); this test keeps the one property that matters most honest even if a
contract is loosened there.
"""

from __future__ import annotations

from collections import defaultdict, deque
from itertools import pairwise

import grimp

ROOT = "credgate"


def top(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], list[str]]]:
    """Edges between top-level packages, and for each edge the module imports that make it."""
    graph = grimp.build_graph(ROOT, cache_dir=None)
    edges: dict[str, set[str]] = defaultdict(set)
    why: dict[tuple[str, str], list[str]] = defaultdict(list)
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            a, b = top(importer), top(imported)
            # The root package itself (``credgate/__init__.py``, the version) is not a sibling.
            if a != b and ROOT not in (a, b):
                edges[a].add(b)
                why[(a, b)].append(f"{importer} -> {imported}")
    return edges, why


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one package (a cycle), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(edges) | {b for targets in edges.values() for b in targets})
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def a_cycle(edges: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle through the component's first package: the shortest way back to it."""
    start = component[0]
    members = set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(edges.get(node, ())):
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def describe(edges: dict[str, set[str]], why: dict[tuple[str, str], list[str]]) -> str:
    lines = []
    for component in strongly_connected(edges):
        cycle = a_cycle(edges, component)
        lines.append(f"cycle among {', '.join(component)}: {' -> '.join(cycle)}")
        for a, b in pairwise(cycle):
            lines.extend(f"    {imp}" for imp in sorted(why[(a, b)])[:5])
    return "\n".join(lines)


def test_the_cycle_finder_finds_a_cycle_and_its_imports() -> None:
    edges = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a", "p.d"}, "p.d": set()}
    why = {("p.a", "p.b"): ["p.a.x -> p.b.y"], ("p.b", "p.c"): ["p.b -> p.c"]}
    why |= {("p.c", "p.a"): ["p.c.z -> p.a"]}
    assert strongly_connected(edges) == [["p.a", "p.b", "p.c"]]
    report = describe(edges, why)
    assert "p.a -> p.b -> p.c -> p.a" in report
    assert "p.c.z -> p.a" in report
    assert describe({"p.a": {"p.b"}, "p.b": set()}, {}) == ""


def test_no_cycle_between_top_level_packages() -> None:
    edges, why = package_graph()
    # The graph is real: the container depends on the features it wires, and imports inside
    # functions count (the CLI imports the benchmark only in the command that runs it).
    assert "credgate.platform" in edges["credgate.container"]
    assert why[("credgate.cli", "credgate.bench")] == ["credgate.cli -> credgate.bench.token"]
    report = describe(edges, why)
    assert report == "", "\n" + report

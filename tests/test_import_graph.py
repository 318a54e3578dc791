"""No circles in mua's import graph (issue #15).

The layers' direction is `lint-imports` (the contracts in pyproject.toml); this test
checks what a layers contract cannot: that no module reaches itself again through the
modules it imports, within a package too. The graph is grimp's, the one import-linter
builds: every import statement, those inside functions included, but not those under
`if TYPE_CHECKING:` (annotations only: they never run, so they close no circle).
"""

from __future__ import annotations

import grimp


def import_graph() -> dict[str, set[str]]:
    """Each mua module and the mua modules it imports itself."""
    graph = grimp.build_graph(
        "mua", include_external_packages=False, exclude_type_checking_imports=True, cache_dir=None
    )
    return {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that each reach one another."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long chain of imports cannot exhaust the recursion limit.
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return groups


def one_cycle(edges: dict[str, set[str]], group: list[str]) -> list[str]:
    """A shortest way from the group's first module back to itself, inside the group."""
    members = set(group)
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node] & members):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    return [start]


def cycles(edges: dict[str, set[str]]) -> list[str]:
    """Each circle, as one of its paths (`a -> b -> a`) and the modules caught in it."""
    found = []
    for group in strongly_connected(edges):
        if len(group) == 1 and group[0] not in edges[group[0]]:
            continue
        path = " -> ".join(one_cycle(edges, group))
        found.append(f"{path}  (modules in this circle: {', '.join(group)})")
    return found


def test_the_finder_names_a_circle_and_passes_a_tree() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(edges) == [
        "a -> b -> c -> a  (modules in this circle: a, b, c)",
        "e -> e  (modules in this circle: e)",
    ]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_circles() -> None:
    found = cycles(import_graph())
    assert not found, "import circles in mua:\n" + "\n".join(found)

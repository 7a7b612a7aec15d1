"""Fail when tocns's packages import each other in a circle (docs/architecture.md, "Rules").

The nodes are tocns's top-level packages and modules (`tocns.core`, `tocns.outbox`, `tocns.app`, ...) and each
feature package (`tocns.features.org`, ...); an edge is any import between two of them, at module level or inside a
function (imports under `TYPE_CHECKING` excepted, as in the import-linter contracts). Any strongly connected group
of two or more nodes is a cycle.

The cycles that existed when this check was added are listed, edge by edge with the reason each is still there, in
`.ci/package_cycles_known.txt`: an edge inside a cycle that the list does not name fails the check (a new cycle, or a
known one that grew), printed with one import that makes it; a listed edge that no longer closes a cycle is
reported so that its line is deleted. The list only shrinks; when it is empty, every cycle fails.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = "tocns"
KNOWN = Path(__file__).with_name("package_cycles_known.txt")


def node_of(module: str) -> str:
    """The package a module counts under: its feature package, or its top-level package or module."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "features":
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def package_edges(graph: grimp.ImportGraph) -> dict[tuple[str, str], tuple[str, str, int]]:
    """Every edge between two nodes, with one import (importer, imported, line) that makes it."""
    edges: dict[tuple[str, str], tuple[str, str, int]] = {}
    for importer in sorted(graph.modules):
        source = node_of(importer)
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            target = node_of(imported)
            if source == target or (source, target) in edges:
                continue
            details = graph.get_import_details(importer=importer, imported=imported)
            line = details[0]["line_number"] if details else 0
            edges[(source, target)] = (importer, imported, line)
    return edges


def cycles(nodes: set[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected groups of two or more nodes (Tarjan's algorithm)."""
    following: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        following[source].append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in following[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def known_edges() -> set[tuple[str, str]]:
    """The edges listed in KNOWN: `source -> target  # why`, one a line."""
    found = set()
    for line in KNOWN.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            source, target = (part.strip() for part in text.split("->"))
            found.add((source, target))
    return found


def main() -> int:
    """Print the package cycles of tocns; 1 when an edge of one is not listed in KNOWN."""
    graph = grimp.build_graph(ROOT, exclude_type_checking_imports=True)
    edges = package_edges(graph)
    nodes = {node_of(m) for m in graph.modules if m != ROOT}
    groups = cycles(nodes, set(edges))
    in_cycles = {
        (source, target): where
        for (source, target), where in edges.items()
        for group in groups
        if source in group and target in group
    }
    known = known_edges()
    new = sorted(set(in_cycles) - known)
    for group in groups:
        print(f"package cycle: {' <-> '.join(group)}")
    for source, target in new:
        importer, imported, line = in_cycles[(source, target)]
        print(f"NEW cycle edge {source} -> {target}: {importer}:{line} imports {imported}")
    for source, target in sorted(known - set(in_cycles)):
        print(f"gone: {source} -> {target} no longer closes a cycle; delete its line from {KNOWN.name}")
    print(f"{len(groups)} cycle(s), {len(in_cycles)} edge(s) in them, {len(new)} not listed in {KNOWN.name}")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())

"""Size and shape of the geoeco package: modules, functions, import arrows, floors, cycles.

    python scripts/tree_stats.py [PACKAGE_DIR] [--json FILE]

Counts are over ``geoeco/`` (or the folder given): module line counts (median, max), function
lengths (``def`` to last line, docstring included), import arrows between geoeco modules (one
per importing/imported module pair, lazy imports included), import cycles (strongly connected
components of more than one module), and floors: the length of the longest chain of imports
after each cycle is collapsed into one node (a tree where every import points down has as many
floors as its deepest chain).
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
from pathlib import Path


def module_name(root: Path, p: Path) -> str:
    parts = list(p.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def absolute(node: ast.ImportFrom, here: str, is_init: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = here.split(".")
    if not is_init:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(tree: ast.AST, here: str, is_init: bool, modules: set[str]) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = absolute(node, here, is_init)
            for a in node.names:
                if f"{src}.{a.name}" in modules:
                    out.add(f"{src}.{a.name}")
                elif src in modules:
                    out.add(src)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in modules:
                    out.add(a.name)
    out.discard(here)
    return out


def sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def floors(graph: dict[str, set[str]], comps: list[list[str]]) -> int:
    comp_of = {m: i for i, c in enumerate(comps) for m in c}
    dag: dict[int, set[int]] = {i: set() for i in range(len(comps))}
    for v, ws in graph.items():
        for w in ws:
            if comp_of[v] != comp_of[w]:
                dag[comp_of[v]].add(comp_of[w])
    depth: dict[int, int] = {}

    def d(i: int) -> int:
        if i not in depth:
            depth[i] = 1 + max((d(j) for j in dag[i]), default=0)
        return depth[i]

    return max((d(i) for i in dag), default=0)


def stats(root: Path) -> dict[str, object]:
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    modules = {module_name(root, p): p for p in files}
    names = set(modules)
    graph: dict[str, set[str]] = {}
    lines, funcs = [], []
    for m, p in modules.items():
        text = p.read_text(encoding="utf-8")
        tree = ast.parse(text)
        graph[m] = imports_of(tree, m, p.name == "__init__.py", names)
        if p.name != "__init__.py":
            lines.append(len(text.splitlines()))
        for n in ast.walk(tree):
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                funcs.append((n.end_lineno - n.lineno + 1, f"{m}.{n.name}"))
    comps = sccs(graph)
    cycles = sorted(sorted(c) for c in comps if len(c) > 1)
    funcs.sort(reverse=True)
    packages = sorted(
        {module_name(root, p.parent / "__init__.py") for p in files if p.name == "__init__.py"}
    )
    return {
        "packages": len(packages),
        "modules": len(lines),
        "module_lines_median": statistics.median(lines),
        "module_lines_max": max(lines),
        "functions": len(funcs),
        "functions_over_80_lines": sum(1 for n, _ in funcs if n > 80),
        "functions_over_100_lines": sum(1 for n, _ in funcs if n > 100),
        "longest_functions": funcs[:5],
        "import_arrows": sum(len(v) for v in graph.values()),
        "import_cycles": cycles,
        "floors": floors(graph, comps),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=Path("geoeco"))
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    s = stats(a.root.resolve())
    text = json.dumps(s, indent=1, ensure_ascii=False)
    if a.json:
        a.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

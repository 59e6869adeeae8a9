"""The house rules of the code base, checked on the source (DESIGN.md, "Import layers").

import-linter (run by CI) checks that rooms import only downwards and that siblings form no
cycles; these tests check what it cannot: every room says what it owns and may import, no
private name crosses a package boundary, every ``from geoeco... import name`` (lazy ones
included) names something the module really defines or imports, and functions stay short.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = (
    "core",
    "catalog",
    "terrain",
    "erosion",
    "evaluation",
    "zoning",
    "inputs",
    "restoration",
    "change",
    "maps",
    "query",
    "workflows",
    "service",
)
#: Longest function, from ``def`` to its last line (docstring included).
MAX_FUNCTION_LINES = 80
#: Functions still longer than that, with their length when the rule came in (issue 13); the
#: list only shrinks.
LONG_FUNCTIONS: dict[str, int] = {}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts[0] == "api":
        parts[0] = "geoeco_api"
    return ".".join(parts)


SOURCES = {
    _module(p): p
    for folder in ("geoeco", "api")
    for p in sorted((ROOT / folder).rglob("*.py"))
    if "__pycache__" not in p.parts
}
TREES = {m: ast.parse(p.read_text(encoding="utf-8")) for m, p in SOURCES.items()}


def _absolute(node: ast.ImportFrom, here: str) -> str:
    if node.level == 0:
        return node.module or ""
    base = here.split(".")
    if not SOURCES[here].name == "__init__.py":
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _package(module: str) -> str:
    return module if SOURCES[module].name == "__init__.py" else module.rsplit(".", 1)[0]


def _imports() -> list[tuple[str, int, str, str]]:
    """(importing module, line, imported module, name) of every from-import of our code."""
    out = []
    for here, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                src = _absolute(node, here)
                if src in SOURCES:
                    out.extend((here, node.lineno, src, a.name) for a in node.names)
    return out


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


@pytest.mark.parametrize("room", ROOMS)
def test_every_room_says_what_it_owns_and_may_import(room: str) -> None:
    doc = ast.get_docstring(TREES[f"geoeco.{room}"]) or ""
    assert "Owns:" in doc and "May import:" in doc, f"geoeco/{room}/__init__.py docstring"


def test_no_private_name_crosses_a_package_boundary() -> None:
    crossing = [
        f"{here}:{line} imports {name} from {src}"
        for here, line, src, name in _imports()
        if name.startswith("_") and not name.startswith("__") and _package(src) != _package(here)
    ]
    assert crossing == []


def test_every_imported_name_exists_where_it_is_imported_from() -> None:
    names = {m: _top_level_names(t) for m, t in TREES.items()}
    missing = [
        f"{here}:{line}: {src} has no {name!r}"
        for here, line, src, name in _imports()
        if name != "*"
        and name not in names[src]
        and f"{src}.{name}" not in SOURCES
        and "__getattr__" not in names[src]
    ]
    assert missing == []


def _function_lengths() -> dict[str, int]:
    out = {}
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                out[f"{module}.{node.name}"] = max(length, out.get(f"{module}.{node.name}", 0))
    return out


def test_functions_are_short() -> None:
    too_long = {
        name: n
        for name, n in _function_lengths().items()
        if n > MAX_FUNCTION_LINES and n > LONG_FUNCTIONS.get(name, 0)
    }
    assert too_long == {}, f"split these (at most {MAX_FUNCTION_LINES} lines)"


def test_the_list_of_long_functions_only_shrinks() -> None:
    lengths = _function_lengths()
    fixed = [name for name in LONG_FUNCTIONS if lengths.get(name, 0) <= MAX_FUNCTION_LINES]
    assert fixed == [], "remove these from LONG_FUNCTIONS: they are short now (or gone)"


def test_the_public_names_of_geoeco_come_from_their_defining_modules() -> None:
    import importlib

    import geoeco

    elsewhere = []
    for name, module in geoeco._EXPORTS.items():
        value = getattr(importlib.import_module(module), name)
        # constants (CRS objects, numbers) carry their type's module: only code is checked
        defined_in = (
            value.__module__ if callable(value) and hasattr(value, "__qualname__") else module
        )
        if defined_in != module:
            elsewhere.append(f"{name}: listed in {module}, defined in {defined_in}")
    assert elsewhere == []

"""The shape of the code: no import cycles, modules of one job, each name once.

The layers themselves are import-linter's contracts (pyproject.toml, run by scripts/test);
these check what a contract cannot say.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

# The import graph is the same on every Home Assistant release: the first environment (where
# import-linter and its grimp are installed) checks it.
grimp = pytest.importorskip("grimp")

PACKAGE = "custom_components.ntnu_library"
ROOT = Path(__file__).resolve().parents[1] / "custom_components" / "ntnu_library"
# The loan table of the seed, row for row, is data kept in one table.
LONG_DATA_MODULES = {"categories.py"}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(edges[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_back() -> None:
    """No chain of imports leads back to where it started, TYPE_CHECKING imports included.

    Importing a package runs its __init__: a child importing its own package counts.
    """
    graph = grimp.build_graph(PACKAGE)
    modules = {module for module in graph.modules if module.startswith(PACKAGE)}
    edges = {
        module: graph.find_modules_directly_imported_by(module) & modules for module in modules
    }
    assert len(modules) > 80  # the whole integration was read
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in ROOT.rglob("*.py")
        if path.name not in LONG_DATA_MODULES
        and (lines := path.read_text(encoding="utf-8").count("\n")) > 500
    }
    assert long == {}


def test_no_two_modules_share_a_name() -> None:
    names = Counter(path.name for path in ROOT.rglob("*.py") if path.name != "__init__.py")
    assert [name for name, count in names.items() if count > 1] == []

"""The layers, enforced: core knows nothing of the UI, the torch-free modules stay torch-free, and the
imports of tui run one way (cli -> app -> panes/views -> core), never back into the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UI_PACKAGES = ("textual", "rich", "plotext", "textual_plotext", "tui")
CLI_MODULES = ("tui.cli", "tui.subcommands.train", "tui.subcommands.sweep", "tui.subcommands.bench",
               "tui.subcommands.serve", "tui.subcommands.tools")


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def modules(package: str) -> list[tuple[str, Path]]:
    return [(f"{package}.{p.stem}" if p.stem != "__init__" else package, p)
            for p in sorted((ROOT / package).rglob("*.py"))]


@pytest.mark.parametrize(("name", "path"), modules("core"), ids=[m for m, _ in modules("core")])
def test_core_imports_no_ui(name, path):
    bad = {m for m in imports_of(path) if m.split(".")[0] in UI_PACKAGES}
    assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize(("name", "path"), modules("tui"), ids=[m for m, _ in modules("tui")])
def test_nothing_under_tui_imports_the_command_line(name, path):
    if name in CLI_MODULES:
        return
    bad = {m for m in imports_of(path) if m in CLI_MODULES}
    assert not bad, f"{name} imports the command line ({bad}): the CLI builds the app, never the other way"


def test_no_import_circles():
    """The import graph of core and tui (module level and function level) has no cycle."""
    graph: dict[str, set[str]] = {}
    names = dict(modules("core") + modules("tui"))
    for name, path in names.items():
        deps = set()
        for m in imports_of(path):
            while m and m not in names:
                m = m.rpartition(".")[0]
            if m and m != name:
                deps.add(m)
        graph[name] = deps
    # core.data <-> core.settings style pairs would show here; report the first cycle found
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        seen[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if seen.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in seen:
                cycle = visit(d)
                if cycle:
                    return cycle
        seen[n] = 2
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in seen:
            cycle = visit(n)
            assert cycle is None, " -> ".join(cycle)

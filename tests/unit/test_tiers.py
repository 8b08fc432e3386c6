"""The tiers, enforced: no test module under tests/unit runs the command line, the app, a subprocess or a sleep
(those belong in tests/functional), so that the unit tier stays quick and needs no terminal or process."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent
# a name (called, imported or taken as a fixture) that only a functional test needs, and what it stands for
FUNCTIONAL = {
    "subprocess": "a subprocess", "Popen": "a subprocess", "COMMAND": "the installed command",
    "run_cli": "the command line", "main": "the command line", "harness": "the app", "run_test": "the app",
    "sleep": "sleeping", "TrainerThread": "the training thread",
}


def functional_names(path: Path) -> set[str]:
    """The FUNCTIONAL names a module uses: as a name, an attribute, an import or a test's argument."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.update(a.arg for a in node.args.args)
            if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("test_"):
                found.add("run_test")  # an async test drives the app
    return found & set(FUNCTIONAL)


@pytest.mark.parametrize("path", sorted(UNIT.glob("test_*.py")), ids=lambda p: p.name)
def test_unit_modules_need_no_process_app_or_command_line(path):
    bad = functional_names(path)
    assert not bad, (f"{path.name} uses {sorted(bad)} ({', '.join(sorted({FUNCTIONAL[b] for b in bad}))}): "
                     "move those tests to tests/functional/" + path.name)

"""Sizes a newcomer can read: no module of core/ or tui/ over 400 lines, no function over 60.

The numba-compiled steps (core/kernels/jitsteps.py) may be longer: a compiled step is one function so that
numba can fuse its loops, and splitting it would cost calls inside the hot loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
COMPILED = ROOT / "core" / "kernels" / "jitsteps.py"


def sources() -> list[Path]:
    return sorted(p for package in ("core", "tui") for p in (ROOT / package).rglob("*.py"))


def too_long(path: Path, root: Path = ROOT) -> list[str]:
    """What in this file is over the limits, as 'file:line name (N lines)'."""
    text = path.read_text()
    where = path.relative_to(root)
    out = []
    if len(text.splitlines()) > MAX_FILE_LINES:
        out.append(f"{where} ({len(text.splitlines())} lines)")
    if path == COMPILED:
        return out
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append(f"{where}:{node.lineno} {node.name} ({n} lines)")
    return out


def test_no_file_or_function_is_too_long():
    found = [hit for path in sources() for hit in too_long(path)]
    assert not found, "split by meaning:\n" + "\n".join(found)


def test_the_check_finds_a_long_function(tmp_path):
    """The check itself can fail: a 61-line function and a 401-line file are both reported."""
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    long_function = tmp_path / "long.py"
    long_function.write_text(f"def f():\n{body}\n")
    hits = [h.split(" ", 1)[1] for h in too_long(long_function, tmp_path)]
    assert hits == ["f (61 lines)"]
    long_file = tmp_path / "big.py"
    long_file.write_text("x = 1\n" * 401)
    assert too_long(long_file, tmp_path) == ["big.py (401 lines)"]

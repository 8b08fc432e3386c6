"""The layers, enforced: core knows nothing of the UI, the torch-free modules stay torch-free, and the
imports of tui run one way (cli -> app -> panes/views -> core), never back into the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UI_PACKAGES = ("textual", "rich", "plotext", "textual_plotext", "tui")
# Loaded without torch, so that the app's first frame does not wait for it (checked in fresh interpreters by
# tests/functional/test_layers.py).
TORCH_FREE = ("core.settings", "core.link.protocol", "core.config", "core.data", "core.runs.folder",
              "core.bpe", "core.runs.vocabcheck", "core.runs.appendfile",
              "core.runs.listing", "core.runs.files", "core.runs.lock", "core.errors", "core.runs.atomic",
              "core.recipe", "core.sizes", "core.status", "core.signals", "core.engine.policy", "core.probes.exercises",
              "core.sweeps.study", "core.sweeps.summary", "core.sweeps.workers", "core.sweeps.storage",
              "core.sweeps.reap", "core.sweeps.trials", "core.milestones", "core.probes.kneser_ney",
              "core.probes.knbaseline", "core.link.baselines_events",
              "core.link.neighbours_messages", "core.link.tokenizer_messages", "core.probes.tokenview",
              "core.runs.overlay", "core.sweeps.objective",
              "core.probes.mixture", "core.probes.neighbours", "core.tokens", "core.measures", "core.presets")


def is_cli(name: str) -> bool:
    """The command line: tui.cli and every subcommand's module."""
    return name == "tui.cli" or name.startswith("tui.subcommands")


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


def module_name(path: Path) -> str:
    """The dotted name a file is imported as: core/runs/folder.py is core.runs.folder, core/runs/__init__.py
    is core.runs."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> list[tuple[str, Path]]:
    return [(module_name(p), p) for p in sorted((ROOT / package).rglob("*.py"))]


def test_module_names_are_dotted_paths():
    names = dict(modules("core"))
    assert {"core", "core.runs", "core.runs.folder", "core.link.protocol", "core.engine.session"} <= set(names)
    assert names["core.runs.folder"] == ROOT / "core" / "runs" / "folder.py"
    assert not {n for n in names if n.count(".") == 1 and n.split(".")[1] in ("folder", "general", "protocol")}


def test_every_torch_free_module_exists():
    names = dict(modules("core"))
    assert set(TORCH_FREE) <= set(names), set(TORCH_FREE) - set(names)


def test_signal_handlers_are_installed_in_one_place():
    """One signal helper (core/signals.py) serves every process that stops on a signal: no other module of core
    or tui calls signal.signal or an event loop's add_signal_handler (by the ast, and by the text)."""
    found = []
    for name, path in modules("core") + modules("tui"):
        if name == "core.signals":
            continue
        text = path.read_text()
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.Attribute) and (node.attr == "add_signal_handler" or (
                    node.attr == "signal" and isinstance(node.value, ast.Name) and node.value.id == "signal")):
                found.append(f"{name}:{node.lineno}")
        if "signal.signal(" in text:
            found.append(name)
    assert not found, found


@pytest.mark.parametrize(("name", "path"), modules("core"), ids=[m for m, _ in modules("core")])
def test_core_imports_no_ui(name, path):
    bad = {m for m in imports_of(path) if m.split(".")[0] in UI_PACKAGES}
    assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize(("name", "path"), modules("tui"), ids=[m for m, _ in modules("tui")])
def test_nothing_under_tui_imports_the_command_line(name, path):
    if is_cli(name):
        return
    bad = {m for m in imports_of(path) if is_cli(m)}
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


def private(name: str) -> bool:
    """_x is private; __x__ (a dunder) is not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(name: str, path: Path, ours: set[str]) -> list[str]:
    """Where module `name` uses a private name of another of `ours`: `from m import _x`, or `m._x` (and
    `m.C._x`) on a name bound by an import of one of ours. Attributes of self and cls are the module's own."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    imported: set[str] = set()  # local names bound to something of ours
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in ("core", "tui"):
                    imported.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            if module.split(".")[0] not in ("core", "tui") or module == name:
                continue
            for a in node.names:
                if private(a.name):
                    hits.append(f"{name}:{node.lineno} from {module} import {a.name}")
                imported.add(a.asname or a.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in imported:
                hits.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    return hits


def test_no_module_uses_another_modules_private_name():
    """A name with a leading underscore is its module's own: another module that needs it gets a public one."""
    found = modules("core") + modules("tui")
    ours = {n for n, _ in found}
    hits = [h for n, p in found for h in private_uses(n, p, ours)]
    assert not hits, "\n".join(hits)


def test_the_private_name_check_finds_both_forms(tmp_path):
    """The check above can fail: an import of a private name and an attribute of an imported module."""
    (tmp_path / "x.py").write_text("from core.runs import folder\nfrom core.runs.atomic import _UMASK\n"
                                   "import core.runs.files as files\n\n"
                                   "class A:\n    def f(self):\n        return self._y, folder._z, files._w, core.x\n")
    hits = private_uses("tui.x", tmp_path / "x.py", set())
    assert len(hits) == 3 and "_UMASK" in hits[0] and "folder._z" in " ".join(hits) and "files._w" in " ".join(hits)

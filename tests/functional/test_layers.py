"""The layers, enforced in fresh interpreters: the torch-free modules stay torch-free (the rest of the layer
rules, read from the source: tests/unit/test_layers.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from unit.test_layers import TORCH_FREE

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", TORCH_FREE)
def test_torch_free_modules_load_without_torch(name):
    """Imported in a fresh interpreter: torch must not come along (the app's first frame depends on it)."""
    code = f"import sys, json, {name}; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [], f"{name} loads torch"


def test_the_app_loads_neither_torch_nor_the_bpe_library():
    """The app's modules, as its first frame imports them: no torch, and no `tokenizers` (only the training process
    learns or reads a BPE tokenizer, core.bpe importing the library inside its functions)."""
    code = ("import sys, json, tui.app, tui.cli; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'tokenizers') or m == 'core.bpe')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []

"""Helpers of the hostile-input tests, shared by both tiers: the installed command, what the user had (a file's
bytes), strict JSON, files that are not word lists, and copies of a run or a checkpoint with something changed."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]  # the repository
MLP_TUI = Path(sys.executable).parent / "mlp-tui"
COMMAND = [str(MLP_TUI)] if MLP_TUI.exists() else [sys.executable, "-m", "tui.cli"]
NAN, INF = float("nan"), float("inf")


def fingerprint(path: Path) -> tuple[bytes, int] | None:
    """What the user had: a file's bytes and modification time (None for a missing file)."""
    if not path.is_file():
        return None
    return path.read_bytes(), path.stat().st_mtime_ns


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    def bad(name):
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, parse_constant=bad)


def train_argv(data: Path | str, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--out", str(out), "--quiet", *extra]


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def write_bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of a run folder, without its lock file."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("lock"))
    return dst


def patch_info(run: Path, **fields) -> None:
    """Rewrite fields of a run's run.json."""
    info = json.loads((run / "run.json").read_text())
    info.update(fields)
    (run / "run.json").write_text(json.dumps(info))


def rewritten(src: Path, dst: Path, **changes) -> Path:
    """A copy of a checkpoint with top-level fields replaced."""
    ck = torch.load(src, map_location="cpu", weights_only=True)
    ck.update(changes)
    torch.save(ck, dst)
    return dst


def checkpoint_with(src: Path, dst: Path, change: Callable[[dict], object]) -> Path:
    """A copy of a checkpoint, changed in place by `change`."""
    ck = torch.load(src, map_location="cpu", weights_only=True)
    change(ck)
    torch.save(ck, dst)
    return dst

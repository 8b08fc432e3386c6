"""Two processes, one run folder: a run another process trains (it holds the run's lock) cannot be continued,
by `train`, a RunWriter or the app's training process, and kill -9 leaves no stale lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL_WORDS, assert_one_line, run_cli, write_words
from helpers import ROOT

from core.data import Dataset
from core.link import protocol as P
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import (
    RunError,
)
from core.runs.listing import list_runs

HOLDER = """
import sys, time
from core.runs.lock import RunLock
lock = RunLock(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


def hold_lock(run: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, env=env)
    assert p.stdout.readline().strip() == b"locked"
    return p


def test_a_run_being_trained_cannot_be_continued_by_another_process(capsys, run_copy, small_data, tmp_path):
    from core.runs.checkpoint import resume_trainer
    from core.runs.lock import holder
    from core.runs.writer import RunWriter

    _, run = run_copy
    p = hold_lock(run)
    try:
        assert holder(run) == p.pid
        ck = load_checkpoint(run / "model.pt")
        data = Dataset.load(ck.dataset, 3)
        with pytest.raises(RunError) as e:
            RunWriter(run, resume_trainer(ck, data), resume=True)
        assert_one_line(e, "being trained by another mlp-tui", f"pid {p.pid}")
        (r,) = [r for r in list_runs(run.parent) if r.path == run]
        assert r.live and r.pid == p.pid
        code, out, _ = run_cli(capsys, ["runs", "--runs-dir", str(run.parent)])
        rows = [x for x in out.splitlines()[2:] if x.split()[0] == run.name]
        assert len(rows) == 1 and rows[0].rstrip().endswith(f"training now (pid {p.pid})"), out
    finally:
        p.kill()
        p.wait()
    # kill -9 leaves no stale lock: the kernel released it with the process
    assert holder(run) is None
    w = RunWriter(run, resume_trainer(load_checkpoint(run / "model.pt"), data), resume=True)
    w.close()


def test_the_apps_pump_refuses_to_continue_a_locked_run_and_trains_on(trained_run, tmp_path):
    import queue

    from core.link.pump import Pump

    _, run = trained_run
    out: queue.Queue = queue.Queue()
    w = Pump(out)
    w.runs_dir = str(tmp_path / "runs")
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    w.reset(str(words), {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}, {"steps": 10**6})
    w.tick()
    mine = w.writer.path
    p = hold_lock(run)
    try:
        w.load(str(run))
    finally:
        p.kill()
        p.wait()
    msgs = []
    while not out.empty():
        msgs.append(out.get_nowait())
    errors = [m.message for m in msgs if isinstance(m, P.Error)]
    assert any(f"being trained by another mlp-tui, pid {p.pid}" in e for e in errors), errors
    assert w.writer.path == mine and w.active  # the current run goes on as it was
    w.close_run()

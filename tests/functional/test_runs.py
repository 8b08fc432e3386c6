"""Run directories through the command line: what a run writes, listing, resuming, kills mid-save, --out that
would overwrite. Export: test_export.py; locks: test_lock.py; damaged folders, a full disk: test_hostile_runs.py."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SMALL_WORDS, TRAINED_HIDDEN, TRAINED_STEPS, assert_cli_error, run_cli, write_words
from helpers import fingerprint, train_argv

from core.data import Dataset
from core.errors import CheckpointError
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import (
    EVALS,
    RunError,
    checkpoint_path,
    read_info,
    read_jsonl,
    read_losses,
    read_metrics,
)
from core.runs.listing import export_csv, list_runs
from core.status import RUN_FOLDER, SESSION, Status


def test_a_cli_run_is_a_run_directory(trained_run):
    words, run = trained_run
    assert run.name.startswith("words-")
    info = read_info(run)
    assert info["step"] == TRAINED_STEPS and info["status"] == "done" and info["origin"] == "cli"
    assert info["model"]["n_hidden"] == TRAINED_HIDDEN and info["dataset"] == str(words.resolve())
    losses = read_losses(run)
    assert len(losses) == TRAINED_STEPS  # one log10 loss per step
    assert all(math.isfinite(v) for v in losses)
    assert 10 ** losses[0] > 10 ** (sum(losses[-50:]) / 50)  # it learned
    evals = read_jsonl(run / EVALS)
    assert evals[-1]["step"] == TRAINED_STEPS and {"train", "dev", "test"} <= set(evals[-1])
    ck = load_checkpoint(checkpoint_path(run))
    assert ck.step == TRAINED_STEPS


def test_metrics_say_status_and_old_ones_with_state_still_read(trained_run, tmp_path):
    """metrics.json says "status", as run.json does; one written before the rename (with "state") reads the same."""
    _, run = trained_run
    raw = json.loads((run / "metrics.json").read_text())
    assert raw["status"] == "done" and "state" not in raw
    assert read_metrics(run)["status"] == Status.DONE == read_info(run)["status"]
    old = tmp_path / "old"
    old.mkdir()
    (old / "metrics.json").write_text(json.dumps({**{k: v for k, v in raw.items() if k != "status"},
                                                  "state": "interrupted"}))
    m = read_metrics(old)
    assert m["status"] == "interrupted" and "state" not in m and m["steps"] == raw["steps"]
    (old / "metrics.json").write_text("[1, 2]")
    with pytest.raises(RunError, match="metrics.json is not an object"):
        read_metrics(old)
    with pytest.raises(RunError, match="no metrics.json"):
        read_metrics(tmp_path)


def test_the_status_vocabulary_keeps_its_words():
    """Status values are the strings run.json, metrics.json and the protocol have always carried."""
    assert {str(s) for s in RUN_FOLDER} == {"running", "paused", "done", "stopped", "diverged", "interrupted",
                                            "idle", "unsaved"}
    assert {str(s) for s in SESSION} == {"running", "paused", "done", "diverged", "stopped", "interrupted"}
    assert json.dumps({"status": Status.DONE}) == '{"status": "done"}' and f"{Status.PAUSED:>7}" == " paused"


def test_runs_lists_them_newest_first(trained_run, capsys, tmp_path):
    _, run = trained_run
    root = run.parent
    code, out, _ = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    assert code == 0
    (row,) = [x for x in out.splitlines() if x.startswith(run.name)]
    assert f" {TRAINED_STEPS} " in row[len(run.name):] and f"block 3 · emb 10 · hidden {TRAINED_HIDDEN}" in row
    (r,) = list_runs(root)
    assert r.params == load_checkpoint(checkpoint_path(run)).model.num_params()
    assert r.step == TRAINED_STEPS and math.isfinite(r.best_dev)
    code, _, err = run_cli(capsys, ["runs", "--runs-dir", str(tmp_path / "none")])
    assert code == 0 and "no runs" in err


def test_export_csv(trained_run, capsys, tmp_path):
    _, run = trained_run
    buf = io.StringIO()
    assert export_csv(run, buf) == TRAINED_STEPS
    lines = buf.getvalue().splitlines()
    assert lines[0] == "step,log10_loss,loss,train_eval,dev_eval,test_eval"
    assert len(lines) == TRAINED_STEPS + 1
    last = lines[-1].split(",")
    assert last[0] == str(TRAINED_STEPS) and all(last[3:])  # the final evaluation is on the last step
    assert float(last[2]) == pytest.approx(10 ** float(last[1]), rel=1e-4)
    out = tmp_path / "h.csv"
    code, _, err = run_cli(capsys, ["export", str(run), "-o", str(out)])
    assert code == 0 and out.read_text() == buf.getvalue() and f"{TRAINED_STEPS} steps" in err
    code, _, err = run_cli(capsys, ["export", str(tmp_path)])
    assert code == 2 and "not an mlp-tui run" in err


def test_sample_and_eval_take_a_run_directory(trained_run, capsys):
    _, run = trained_run
    code, out, _ = run_cli(capsys, ["sample", "--checkpoint", str(run), "-n", "5", "--seed", "1"])
    assert code == 0 and len(out.splitlines()) == 5
    code, out, _ = run_cli(capsys, ["eval", "--checkpoint", str(run)])
    assert code == 0 and json.loads(out)["step"] == TRAINED_STEPS


SAVER = """
import sys, core
from core.data import Dataset
from core.model import MLPConfig
from core.engine.train import TrainConfig, Trainer
from core.runs.checkpoint import save_checkpoint
t = Trainer(Dataset.load(sys.argv[1], 3), MLPConfig(n_hidden=400), TrainConfig(steps=10**9))
print("ready", flush=True)
while True:
    t.train_chunk()
    save_checkpoint(t, sys.argv[2])
"""


@pytest.mark.slow
def test_kill_9_in_the_middle_of_saves_leaves_a_loadable_checkpoint(tmp_path):
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    ck = tmp_path / "model.pt"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for delay in (0.05, 0.13, 0.21, 0.37):
        p = subprocess.Popen([sys.executable, "-c", SAVER, str(words), str(ck)], stdout=subprocess.PIPE, env=env)
        assert p.stdout.readline().strip() == b"ready"
        end = time.monotonic() + 30  # the first save (slow on a busy machine) before the first kill
        while not ck.exists() and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        loaded = load_checkpoint(ck)  # the last complete save, never a torn one
        assert loaded.model.config.n_hidden == 400
    leftovers = [f.name for f in tmp_path.iterdir() if f.name.startswith(".model.pt.")]
    assert len(leftovers) <= 4  # temp files of interrupted saves, never the checkpoint itself


def test_a_truncated_checkpoint_in_a_run_is_refused_clearly(trained_run, tmp_path, capsys):
    _, run = trained_run
    bad = tmp_path / "copy"
    bad.mkdir()
    for f in run.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    data = (bad / "model.pt").read_bytes()
    (bad / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or damaged"):
        load_checkpoint(checkpoint_path(bad))
    code, _, err = run_cli(capsys, ["eval", "--checkpoint", str(bad)])
    assert_cli_error(code, err, "truncated")


def test_dataset_of_a_run_reloads(trained_run):
    words, run = trained_run
    info = read_info(run)
    d = Dataset.load(info["dataset"], info["model"]["block_size"])
    assert len(d.words) == len(SMALL_WORDS)


def test_a_run_from_another_version_is_refused(trained_run, tmp_path, capsys):
    _, run = trained_run
    other = tmp_path / "future"
    other.mkdir()
    info = json.loads((run / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**info, "version": 99}))
    (other / "model.pt").write_bytes((run / "model.pt").read_bytes())
    with pytest.raises(RunError, match="run format version 99; this mlp-tui reads version 1"):
        read_info(other)
    (r,) = list_runs(tmp_path)
    assert r.status == "damaged" and "version 99" in r.error
    code, _, err = run_cli(capsys, ["export", str(other)])
    assert code == 2 and "version 99" in err


def test_train_never_writes_over_the_users_files(capsys, tmp_path, trained_run, words_file):
    """--out at a run (trained on the same data or on other data) or at the data file itself: refused, untouched.
    (Merged with test_runs.py's test_out_refuses_to_overwrite_a_run.)"""
    words, run = trained_run
    before = {p.name: fingerprint(p) for p in run.iterdir()}
    model_before = (run / "model.pt").read_bytes()
    code, _, err = run_cli(capsys, ["train", "--data", str(words), "--steps", "10", "--out", str(run), "--quiet"])
    assert code == 2 and "already holds a run" in err
    assert (run / "model.pt").read_bytes() == model_before
    code, _, err = run_cli(capsys, train_argv(words_file, run, "--steps", "10"))
    assert_cli_error(code, err, "already holds a run", "nothing was overwritten")
    assert {p.name: fingerprint(p) for p in run.iterdir()} == before
    data_before = fingerprint(words_file)
    code, _, err = run_cli(capsys, train_argv(words_file, words_file, "--steps", "10"))  # --out is the data file
    assert_cli_error(code, err, str(words_file))
    assert fingerprint(words_file) == data_before



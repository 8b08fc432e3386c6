"""Run directories: what a run writes as it goes, listing, CSV export, resuming, and kills mid-save."""

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
from conftest import SMALL_WORDS, run_cli, small_trainer, write_words

from core.data import Dataset
from core.errors import CheckpointError
from core.link import protocol as P
from core.runs.checkpoint import load_checkpoint, resume_trainer
from core.runs.folder import (
    EVALS,
    LOSSES,
    RunError,
    checkpoint_path,
    read_info,
    read_jsonl,
    read_losses,
    read_metrics,
)
from core.runs.listing import export_csv, list_runs
from core.runs.writer import RunWriter
from core.status import RUN_FOLDER, SESSION, Status
from tui.cli import main


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    words = write_words(base / "words.txt", SMALL_WORDS)
    root = base / "root"
    code = main(["train", "--data", str(words), "--steps", "400", "--hidden", "16", "--runs-dir", str(root),
                 "--quiet"])
    assert code == 0
    (run,) = [p for p in root.iterdir()]
    return words, root, run


def test_a_cli_run_is_a_run_directory(cli_run):
    words, root, run = cli_run
    assert run.name.startswith("words-")
    info = read_info(run)
    assert info["step"] == 400 and info["status"] == "done" and info["origin"] == "cli"
    assert info["model"]["n_hidden"] == 16 and info["dataset"] == str(words.resolve())
    losses = read_losses(run)
    assert len(losses) == 400  # one log10 loss per step
    assert all(math.isfinite(v) for v in losses)
    assert 10 ** losses[0] > 10 ** (sum(losses[-50:]) / 50)  # it learned
    evals = read_jsonl(run / EVALS)
    assert evals[-1]["step"] == 400 and {"train", "dev", "test"} <= set(evals[-1])
    ck = load_checkpoint(checkpoint_path(run))
    assert ck.step == 400


def test_metrics_say_status_and_old_ones_with_state_still_read(cli_run, tmp_path):
    """metrics.json says "status", as run.json does; one written before the rename (with "state") reads the same."""
    _, _, run = cli_run
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


def test_runs_lists_them_newest_first(cli_run, capsys, tmp_path):
    _, root, run = cli_run
    code, out, _ = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    assert code == 0
    assert run.name in out and "400" in out and "block 3 · emb 10 · hidden 16" in out
    (r,) = list_runs(root)
    assert r.params == load_checkpoint(checkpoint_path(run)).model.num_params()
    assert r.step == 400 and math.isfinite(r.best_dev)
    code, _, err = run_cli(capsys, ["runs", "--runs-dir", str(tmp_path / "none")])
    assert code == 0 and "no runs" in err


def test_a_damaged_run_is_listed_with_the_reason(tmp_path):
    bad = tmp_path / "bad-run"
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    (r,) = list_runs(tmp_path)
    assert r.status == "damaged" and "not readable JSON" in r.error
    with pytest.raises(RunError, match="not an mlp-tui run"):
        read_info(tmp_path)


def test_export_csv(cli_run, capsys, tmp_path):
    _, _, run = cli_run
    buf = io.StringIO()
    assert export_csv(run, buf) == 400
    lines = buf.getvalue().splitlines()
    assert lines[0] == "step,log10_loss,loss,train_eval,dev_eval,test_eval"
    assert len(lines) == 401
    last = lines[-1].split(",")
    assert last[0] == "400" and all(last[3:])  # the final evaluation is on the last step
    assert float(last[2]) == pytest.approx(10 ** float(last[1]), rel=1e-4)
    out = tmp_path / "h.csv"
    code, _, err = run_cli(capsys, ["export", str(run), "-o", str(out)])
    assert code == 0 and out.read_text() == buf.getvalue() and "400 steps" in err
    code, _, err = run_cli(capsys, ["export", str(tmp_path)])
    assert code == 2 and "not an mlp-tui run" in err


def test_sample_and_eval_take_a_run_directory(cli_run, capsys):
    _, _, run = cli_run
    code, out, _ = run_cli(capsys, ["sample", "--checkpoint", str(run), "-n", "5", "--seed", "1"])
    assert code == 0 and len(out.splitlines()) == 5
    code, out, _ = run_cli(capsys, ["eval", "--checkpoint", str(run)])
    assert code == 0 and json.loads(out)["step"] == 400


def test_out_refuses_to_overwrite_a_run(cli_run, capsys):
    words, _, run = cli_run
    before = (run / "model.pt").read_bytes()
    code, _, err = run_cli(capsys, ["train", "--data", str(words), "--steps", "10", "--out", str(run), "--quiet"])
    assert code == 2 and "already holds a run" in err
    assert (run / "model.pt").read_bytes() == before


def logged_run(tr, w: RunWriter, steps: int) -> None:
    """Train `steps` more, logging each chunk's losses as the Session does."""
    target = tr.step + steps
    while tr.step < target:
        assert tr.train_chunk(target)
        w.log_losses(tr.last_chunk)


def test_resuming_truncates_the_history_to_the_checkpoint(tmp_path, small_data):
    tr = small_trainer(small_data, steps=10_000)
    w = RunWriter(tmp_path / "r", tr)
    logged_run(tr, w, 300)
    w.checkpoint()
    logged_run(tr, w, 200)  # trained past the checkpoint, then killed: no close()
    w.flush()
    w.abandon()  # what a kill leaves: the files as flushed, and the kernel drops the lock
    assert len(read_losses(tmp_path / "r")) == 500
    ck = load_checkpoint(tmp_path / "r" / "model.pt")
    tr2 = resume_trainer(ck, small_data)
    w2 = RunWriter(tmp_path / "r", tr2, resume=True)
    assert len(read_losses(tmp_path / "r")) == 300
    logged_run(tr2, w2, 100)
    w2.close("stopped")
    assert len(read_losses(tmp_path / "r")) == 400 == read_info(tmp_path / "r")["step"]


def test_torn_tails_are_ignored(tmp_path, small_data):
    tr = small_trainer(small_data, steps=100)
    w = RunWriter(tmp_path / "r", tr)
    w.log_losses([0.5, 0.4, 0.3])
    w.log_eval(3, {"dev": 2.0}, 1.0)
    w.flush()
    with open(tmp_path / "r" / LOSSES, "ab") as f:
        f.write(b"\x00\x01")  # half a float: killed mid-write
    with open(tmp_path / "r" / EVALS, "a") as f:
        f.write('{"step": 4, "de')
    assert list(read_losses(tmp_path / "r")) == pytest.approx([0.5, 0.4, 0.3])
    assert read_jsonl(tmp_path / "r" / EVALS) == [{"step": 3, "seconds": 1.0, "dev": 2.0}]


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


def test_a_truncated_checkpoint_in_a_run_is_refused_clearly(cli_run, tmp_path, capsys):
    _, _, run = cli_run
    bad = tmp_path / "copy"
    bad.mkdir()
    for f in run.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    data = (bad / "model.pt").read_bytes()
    (bad / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or damaged"):
        load_checkpoint(checkpoint_path(bad))
    code, _, err = run_cli(capsys, ["eval", "--checkpoint", str(bad)])
    assert code == 2 and "truncated" in err and "Traceback" not in err


def test_dataset_of_a_run_reloads(cli_run):
    words, _, run = cli_run
    info = read_info(run)
    d = Dataset.load(info["dataset"], info["model"]["block_size"])
    assert len(d.words) == len(SMALL_WORDS)


def test_a_run_from_another_version_is_refused(cli_run, tmp_path, capsys):
    _, _, run = cli_run
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


def test_a_time_budget_run_resumes_with_its_clock(tmp_path, small_data):
    tr = small_trainer(small_data, optimizer="adamw", lr=1e-2, schedule="cosine", minutes=0.01)
    tr.run()
    assert tr.finished and tr.progress == 1.0
    w = RunWriter(tmp_path / "r", tr)
    w.close("done")
    back = resume_trainer(load_checkpoint(tmp_path / "r" / "model.pt"), small_data)
    assert back.wall == pytest.approx(tr.wall) and back.elapsed == pytest.approx(tr.elapsed)
    assert back.finished and back.lr == pytest.approx(tr.lr)  # not a second budget from the peak lr


def test_resuming_drops_evaluations_and_samples_after_the_checkpoint(tmp_path, small_data):
    tr = small_trainer(small_data, steps=10_000)
    w = RunWriter(tmp_path / "r", tr)
    tr.run(steps=100)
    w.log_eval(100, {"dev": 3.0}, 1.0)
    w.log_samples(100, [("ann", False)])
    w.checkpoint()
    w.log_eval(250, {"dev": 2.5}, 2.0)  # trained on, then killed before the next checkpoint
    w.log_samples(250, [("bob", False)])
    w.flush()
    w.abandon()
    w2 = RunWriter(tmp_path / "r", resume_trainer(load_checkpoint(tmp_path / "r" / "model.pt"), small_data),
                   resume=True)
    assert [e["step"] for e in read_jsonl(tmp_path / "r" / EVALS)] == [100]
    assert [e["names"] for e in read_jsonl(tmp_path / "r" / "samples.jsonl")] == [["ann"]]
    w2.close()


def test_a_full_disk_stops_saving_not_training(tmp_path, small_data):
    import queue

    from core.link.pump import Pump

    out: queue.Queue = queue.Queue()
    w = Pump(out)
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    w.runs_dir = str(tmp_path / "runs")
    w.reset(str(words), {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}, {"steps": 10**6})
    assert w.writer is not None and not w.writer.opened  # no folder until a step is trained
    w.tick()
    assert w.writer.opened and w.writer.path.is_dir()
    w.writer._losses.close()
    w.writer._losses = open("/dev/full", "wb", buffering=0)  # every write: ENOSPC
    step = w.trainer.step
    for _ in range(5):
        w.tick()
    assert w.writer is None and w.trainer.step > step  # saving stopped, training did not
    msgs = []
    while not out.empty():
        msgs.append(out.get_nowait())
    assert P.RunFolder(None) in msgs
    assert any(isinstance(m, P.Error) and "No space left" in m.message for m in msgs)
    assert not any(isinstance(m, P.Fatal) for m in msgs)


def test_a_reset_marks_the_abandoned_run_stopped(tmp_path):
    import queue

    from core.link.pump import Pump

    w = Pump(queue.Queue())
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    w.runs_dir = str(tmp_path / "runs")
    model = {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}
    w.reset(str(words), model, {"steps": 10**6})
    for _ in range(3):
        w.tick()
    first = w.writer.path
    w.reset(str(words), model, {"steps": 10**6})
    w.tick()
    assert read_info(first)["status"] == "stopped"
    assert w.writer.path != first


def test_batch_norm_refuses_a_batch_of_one(small_data):
    from core.config import MLPConfig, TrainConfig
    from core.engine.train import Trainer
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="batch of at least 2"):
        Trainer(small_data, MLPConfig(batchnorm=True, n_hidden=8), TrainConfig(batch_size=1))


def test_downsample_means_buckets_and_skips_non_finite():
    from core.runs.folder import downsample

    steps, means = downsample([1.0, 3.0, 5.0, 7.0, float("nan"), 9.0], 3)
    assert means == [2.0, 6.0, 9.0]  # the NaN is left out of its bucket's mean
    assert steps == [1.5, 3.5, 5.5]
    assert downsample([1.0, 2.0], 10) == ([1.0, 2.0], [1.0, 2.0])
    assert downsample([], 10) == ([], [])

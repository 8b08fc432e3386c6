"""Run directories in process: the writer, resuming, torn tails, damaged folders, a full disk, downsampling."""

from __future__ import annotations

import pytest
from conftest import SMALL_WORDS, small_trainer, write_words
from helpers import copy_run, patch_info

from core.data import Dataset
from core.link import protocol as P
from core.runs.checkpoint import load_checkpoint, resume_trainer
from core.runs.folder import (
    EVALS,
    LOSSES,
    RunError,
    read_info,
    read_jsonl,
    read_losses,
)
from core.runs.listing import list_runs
from core.runs.writer import RunWriter


def logged_run(tr, w: RunWriter, steps: int) -> None:
    """Train `steps` more, logging each chunk's losses as the Session does."""
    target = tr.step + steps
    while tr.step < target:
        assert tr.train_chunk(target)
        w.log_losses(tr.last_chunk)


def test_a_damaged_run_is_listed_with_the_reason(tmp_path):
    bad = tmp_path / "bad-run"
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    (r,) = list_runs(tmp_path)
    assert r.status == "damaged" and "not readable JSON" in r.error
    with pytest.raises(RunError, match="not an mlp-tui run"):
        read_info(tmp_path)


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


def test_two_writers_in_one_process_are_refused_too(tmp_path, small_data):
    from core.runs.folder import RunError
    from core.runs.writer import RunWriter

    tr = small_trainer(small_data, steps=1000)
    tr.run(steps=50)
    a = RunWriter(tmp_path / "r", tr)
    a.open()
    with pytest.raises(RunError, match="being trained by another mlp-tui"):
        RunWriter(tmp_path / "r", tr, resume=True)
    a.close()


def test_leftover_temp_files_are_ignored_and_cleared_on_resume(trained_run, tmp_path, capsys):
    import shutil

    from core.runs.checkpoint import resume_trainer
    from core.runs.listing import list_runs
    from core.runs.writer import RunWriter

    _, src = trained_run
    run = tmp_path / "runs" / "copy"
    shutil.copytree(src, run)
    (run / ".model.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    (run.parent / ".model.pt.xyz.tmp").write_bytes(b"x")
    (r,) = list_runs(run.parent)
    assert r.path == run and not r.error
    ck = load_checkpoint(run / "model.pt")
    w = RunWriter(run, resume_trainer(ck, Dataset.load(ck.dataset, 3)), resume=True)
    assert not (run / ".model.pt.abc123.tmp").exists()
    w.close()


def test_a_5000_digit_number_is_a_damaged_line_not_a_traceback(capsys, trained_run, tmp_path):
    from core.runs.folder import RunError, read_evals, read_info

    _, src = trained_run
    run = copy_run(src, tmp_path / "h")
    with open(run / "evals.jsonl", "a") as f:
        f.write('{"step": 1' + "0" * 5000 + "}\n")
    assert all(e["step"] < 10**6 for e in read_evals(run))
    patch_info(run, step=0)
    (run / "run.json").write_text((run / "run.json").read_text().replace('"step": 0', '"step": 1' + "0" * 5000))
    with pytest.raises(RunError, match="not readable JSON"):
        read_info(run)

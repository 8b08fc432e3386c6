"""Run directories through the command line: what a run writes, listing, CSV export, and kills mid-save."""

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
from conftest import SMALL_WORDS, TRAINED_HIDDEN, TRAINED_STEPS, assert_cli_error, assert_one_line, run_cli, write_words
from helpers import COMMAND, ROOT, copy_run, fingerprint, patch_info, train_argv

from core.data import Dataset
from core.errors import CheckpointError
from core.link import protocol as P
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import (
    EVALS,
    RunError,
    checkpoint_path,
    read_info,
    read_jsonl,
    read_losses,
)
from core.runs.listing import export_csv, list_runs


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


def run_files(run: Path) -> dict[str, tuple[bytes, int] | None]:
    return {f.name: fingerprint(f) for f in run.iterdir()}


@pytest.mark.parametrize("target", ["model.pt", "losses.f32", "run.json", "evals.jsonl", "samples.jsonl", "lock"])
def test_export_never_writes_over_a_file_of_the_run_it_reads(capsys, trained_run, target):
    _, run = trained_run
    before = run_files(run)
    code, out, err = run_cli(capsys, ["export", str(run), "-o", str(run / target)])
    assert_cli_error(code, err, target, "of the run being read", "nothing was written")
    assert run_files(run) == before
    load_checkpoint(run / "model.pt")  # still loads


def test_export_refuses_a_link_to_a_run_file_too(capsys, trained_run, tmp_path):
    _, run = trained_run
    before = run_files(run)
    (tmp_path / "soft.csv").symlink_to(run / "model.pt")
    os.link(run / "losses.f32", tmp_path / "hard.csv")
    for name in ("soft.csv", "hard.csv"):
        code, _, err = run_cli(capsys, ["export", str(run), "-o", str(tmp_path / name)])
        assert_cli_error(code, err, "of the run being read")
    assert run_files(run) == before


def test_export_replaces_a_file_only_when_the_new_one_is_whole(capsys, trained_run, tmp_path, monkeypatch):
    import core.runs.listing

    _, run = trained_run
    old = tmp_path / "losses.csv"
    old.write_text("what the user had\n")

    def half_then_fail(path, out):
        out.write("step,log10_loss\n1,0.5\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.runs.listing, "export_csv", half_then_fail)
    code, _, err = run_cli(capsys, ["export", str(run), "-o", str(old)])
    assert_cli_error(code, err, "No space left on device", "the old file is as it was")
    assert old.read_text() == "what the user had\n"
    assert [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")] == []
    monkeypatch.undo()
    code, _, err = run_cli(capsys, ["export", str(run), "-o", str(old)])
    assert code == 0 and len(old.read_text().splitlines()) == TRAINED_STEPS + 1  # header + one line a step


def test_export_writes_straight_to_a_device_or_pipe(trained_run, tmp_path):
    _, run = trained_run
    r = subprocess.run([*COMMAND, "export", str(run), "-o", "/dev/stdout"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("step,") and len(r.stdout.splitlines()) == TRAINED_STEPS + 1


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly_and_a_full_device_in_one_line(trained_run):
    _, run = trained_run
    cmd = " ".join(f"'{c}'" for c in COMMAND)
    r = subprocess.run(f"{cmd} export '{run}' | head -2", shell=True, capture_output=True, text=True, timeout=120)
    assert r.stdout.count("\n") == 2 and r.stderr == "", r.stderr
    p = subprocess.Popen([*COMMAND, "sample", "--checkpoint", str(run), "-n", "10000000", "--seed", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()  # `| head -1`
    _, err = p.communicate(timeout=60)
    assert first.strip() and err == b"", err
    if Path("/dev/full").exists():
        with open("/dev/full", "w") as full:
            r = subprocess.run([*COMMAND, "export", str(run)], stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=120)
        assert_cli_error(r.returncode, r.stderr, "cannot write the output", "No space left on device")


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
    from core.runs.folder import RunError
    from core.runs.listing import list_runs
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


def test_the_app_worker_refuses_to_continue_a_locked_run_and_trains_on(trained_run, tmp_path):
    import queue

    from core.link.transport import _Worker

    _, run = trained_run
    out: queue.Queue = queue.Queue()
    w = _Worker(out)
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


BAD_INFOS = [
    ("step-1e999", lambda r: (r / "run.json").write_text((r / "run.json").read_text().replace(
        f'"step": {TRAINED_STEPS}', '"step": 1e999')), "step is inf"),
    ("step-bool", lambda r: patch_info(r, step=True), "step is True"),
    ("step-huge", lambda r: patch_info(r, step=10**400), "step is"),
    ("step-string", lambda r: patch_info(r, step="200"), "step is '200'"),
    ("loss-text", lambda r: patch_info(r, best_dev_loss="low"), "best_dev_loss is 'low'"),
    ("escape-in-dataset", lambda r: patch_info(r, dataset="\x1b]2;PWNED\x07"), "dataset is"),
    ("status-unknown", lambda r: patch_info(r, status="rm -rf"), "status is"),
    ("hidden-out-of-range", lambda r: patch_info(r, model={"n_hidden": -5}), "model settings"),
    ("not-a-dict", lambda r: (r / "run.json").write_text("[1, 2]"), "of another kind"),
    ("deep-json", lambda r: (r / "run.json").write_text("[" * 100_000 + "]" * 100_000), "not readable JSON"),
    ("fifo", lambda r: ((r / "run.json").unlink(), os.mkfifo(r / "run.json")), "not a regular file"),
    ("folder", lambda r: ((r / "run.json").unlink(), (r / "run.json").mkdir()), "run.json is not a regular file"),
    ("huge", lambda r: (r / "run.json").write_bytes(b" " * (2 << 20)), "more than the 1.0 MiB"),
]


@pytest.mark.parametrize(("make", "fragment"), [b[1:] for b in BAD_INFOS], ids=[b[0] for b in BAD_INFOS])
def test_a_damaged_run_json_is_listed_as_damaged_and_the_others_still_list(capsys, trained_run, tmp_path, make,
                                                                           fragment):
    from core.runs.folder import RunError, read_info
    from core.runs.listing import list_runs

    _, src = trained_run
    root = tmp_path / "runs"
    copy_run(src, root / "good")
    bad = copy_run(src, root / "bad")
    make(bad)
    with pytest.raises(RunError) as e:
        read_info(bad)
    assert_one_line(e, fragment)
    assert "\x1b" not in str(e.value)
    runs = {r.path.name: r for r in list_runs(root)}
    assert runs["good"].step == TRAINED_STEPS and not runs["good"].error
    assert runs["bad"].status == "damaged" and fragment in runs["bad"].error
    code, out, err = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    assert code == 0 and "Traceback" not in err and "\x1b" not in out
    assert "damaged:" in next(x for x in out.splitlines() if x.startswith("bad"))
    assert any(x.startswith("good") and str(TRAINED_STEPS) in x for x in out.splitlines())


def test_damaged_history_lines_are_skipped_not_fatal(capsys, trained_run, tmp_path):
    from core.runs.folder import read_evals, read_samples

    _, src = trained_run
    run = copy_run(src, tmp_path / "r")
    with open(run / "evals.jsonl", "a") as f:
        f.write('{"step": 1e999, "dev": 1}\n{"step": 5, "dev": "x"}\n{"step": 6, "dev": 1e999}\n[1]\n')
    with open(run / "samples.jsonl", "a") as f:
        f.write('{"step": 7, "names": ["ok", "\\u001b[31mred"]}\n{"step": 8, "names": "abc"}\n')
    assert all(isinstance(e["step"], int) for e in read_evals(run))
    assert not any(e["step"] in (5, 6) for e in read_evals(run))
    assert not any(s["step"] in (7, 8) for s in read_samples(run))
    (run / "losses.f32").write_bytes(array_of([1e38, -1e38, float("nan"), 0.5]))
    code, out, err = run_cli(capsys, ["export", str(run)])  # 10 ** 1e38 raised OverflowError
    assert code == 0, err
    assert out.splitlines()[1].split(",")[2] == "inf"


def array_of(values: list[float]) -> bytes:
    import array

    return array.array("f", values).tobytes()


def test_nothing_printed_from_a_file_can_drive_the_terminal(capsys, trained_run, tmp_path):
    """Run folder names and paths are printed escaped (the data loader already refuses control characters)."""
    from core.runs.files import safe_text

    _, src = trained_run
    root = tmp_path / "runs"
    copy_run(src, root / "evil\x1b]2;PWNED\x07")
    code, out, err = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    assert code == 0 and "\x1b" not in out + err and "\x07" not in out + err
    assert "evil\\x1b]2;PWNED\\x07" in out
    assert safe_text("a\u202eb") == "a\\u202eb"  # a right-to-left override would reorder the line


def test_train_on_a_full_disk_trains_on_and_rescues_the_weights(capsys, tmp_path, monkeypatch, words_file):
    """ENOSPC on the run folder from the first losses written: the run trains to its end, the weights go to the
    temp folder with a message that says where, and run.json says "unsaved" and where they went."""
    import errno

    import core.runs.checkpoint
    import core.runs.folder
    import core.runs.writer

    run = tmp_path / "run"
    real_write, real_save = core.runs.writer.RunWriter._write, core.runs.checkpoint.save_checkpoint

    def full_write(self, f, data):
        raise core.runs.folder.RunError(f"{self.path}: cannot save the run (No space left on device)")

    def full_save(trainer, path, **kw):
        if Path(path).parent == run:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(trainer, path, **kw)

    monkeypatch.setattr(core.runs.writer.RunWriter, "_write", full_write)
    monkeypatch.setattr(core.runs.checkpoint, "save_checkpoint", full_save)
    monkeypatch.setattr(tempfile_module(), "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    code, out, err = run_cli(capsys, train_argv(words_file, run, "--steps", "500", "--hidden", "16"))
    assert code == 1, err
    assert "Traceback" not in err
    rescued = list((tmp_path / "tmp").glob("mlp-tui-run-step500.pt"))
    assert len(rescued) == 1
    assert f"the weights were saved to {rescued[0]} instead" in err
    assert load_checkpoint(rescued[0]).step == 500
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "unsaved" and info["rescued_to"] == str(rescued[0]) and info["step"] == 500
    del real_write


def tempfile_module():
    import tempfile

    return tempfile


def test_train_out_refuses_a_folder_with_files_a_run_would_write(capsys, tmp_path, words_file):
    out = tmp_path / "u"
    out.mkdir()
    (out / "metrics.json").write_text("USER\n")
    code, _, err = run_cli(capsys, train_argv(words_file, out, "--steps", "10"))
    assert_cli_error(code, err, "already holds files a run would write (metrics.json)")
    assert (out / "metrics.json").read_text() == "USER\n"


def test_export_refuses_a_stdout_that_is_a_file_of_the_run(trained_run, tmp_path):
    _, src = trained_run
    run = copy_run(src, tmp_path / "r")
    before = (run / "losses.f32").read_bytes()
    with open(run / "losses.f32", "a") as f:
        r = subprocess.run([*COMMAND, "export", str(run)], stdout=f, stderr=subprocess.PIPE, text=True, timeout=60)
    assert_cli_error(r.returncode, r.stderr, "stdout is losses.f32 of the run being read")
    assert (run / "losses.f32").read_bytes() == before


def test_a_fifo_for_the_loss_file_does_not_hang_export_or_a_load(capsys, trained_run, tmp_path):
    import queue

    from core.link.transport import _Worker

    _, src = trained_run
    run = copy_run(src, tmp_path / "f")
    (run / "losses.f32").unlink()
    os.mkfifo(run / "losses.f32")
    code, _, err = run_cli(capsys, ["export", str(run)])
    assert_cli_error(code, err, "losses.f32 is not a regular file")
    out: queue.Queue = queue.Queue()
    _Worker(out).load(str(run))  # returns: refused, not blocked on the FIFO
    assert any(isinstance(m, P.Error) for m in [out.get_nowait() for _ in range(out.qsize())])

"""`mlp-tui train --resume RUN`: a run continued from its checkpoint ends with the losses of a run that was never
stopped (a plain model and an ensemble); only live settings come with it; a bad RUN is one line; and a run killed
before its first checkpoint is listed with that reason and starts afresh in its folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SMALL_WORDS, TRAINS_ON, assert_cli_error, run_cli, write_words
from helpers import COMMAND, ROOT, fingerprint

from core import settings
from core.runs.checkpoint import load_checkpoint
from core.runs.listing import NO_CHECKPOINT, list_runs

PLAIN = ["--n-embd", "4", "--hidden", "16", "--init", "kaiming", "--optimizer", "adamw", "--lr", "0.01",
         "--dropout", "0.2", "--weight-decay", "0.01", "--warmup", "50", "--decay-at", "300"]
ENSEMBLE = ["--members", "2", "--n-embd", "4", "--hidden", "16", "--init", "kaiming", "--optimizer", "adamw",
            "--lr", "0.01", "--dropout", "0.2", "--decay-at", "300"]
LOSSES = ("train_loss", "dev_loss", "test_loss")


def train(capsys, words: Path, out: Path, *flags: str) -> dict:
    code, _, err = run_cli(capsys, ["train", "--data", str(words), "--out", str(out), "--quiet", *flags])
    assert code == 0, err
    return json.loads((out / "metrics.json").read_text())


def resume(capsys, run: Path, *flags: str) -> tuple[int, str]:
    code, _, err = run_cli(capsys, ["train", "--resume", str(run), "--quiet", *flags])
    return code, err


def same_weights(a: Path, b: Path) -> bool:
    import torch

    wa, wb = load_checkpoint(a / "model.pt").model.state_dict(), load_checkpoint(b / "model.pt").model.state_dict()
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("flags", [PLAIN, ENSEMBLE], ids=["plain", "ensemble"])
def test_a_resumed_run_ends_with_the_losses_of_an_unstopped_one(capsys, tmp_path, flags):
    """Stopped at step 250 by its length, continued to 600 with --steps: past the warm-up and the step decay at
    300, AdamW's moments, the batches and the dropout masks all carry on as in one 600-step run."""
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    straight = train(capsys, words, tmp_path / "straight", *flags, "--steps", "600")
    first = train(capsys, words, tmp_path / "stopped", *flags, "--steps", "250")
    assert first["steps"] == 250 and first["dev_loss"] != straight["dev_loss"]
    code, err = resume(capsys, tmp_path / "stopped", "--steps", "600")
    assert code == 0, err
    assert err.splitlines()[0].startswith(f"continuing {tmp_path / 'stopped'} from step 250 with steps 600: ")
    resumed = json.loads((tmp_path / "stopped" / "metrics.json").read_text())
    assert resumed["steps"] == straight["steps"] == 600
    assert [resumed[k] for k in LOSSES] == [straight[k] for k in LOSSES]  # exactly, not nearly
    assert (tmp_path / "stopped" / "losses.f32").read_bytes() == (tmp_path / "straight" / "losses.f32").read_bytes()
    assert same_weights(tmp_path / "stopped", tmp_path / "straight")
    info = json.loads((tmp_path / "stopped" / "run.json").read_text())
    assert info["status"] == "done" and info["step"] == 600 and info["train"]["steps"] == 600
    assert resumed["dev_curve"][0][1] == 0  # the curve from the run's start, not from the resume


@pytest.mark.slow
def test_a_run_interrupted_by_a_signal_resumes_to_the_same_losses(tmp_path, capsys):
    """Ctrl+C at some step k of a cosine schedule over N steps; --resume alone goes on to N, on the same curve."""
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    flags = [*PLAIN[:-2], "--schedule", "cosine", "--steps", "40000"]
    straight = train(capsys, words, tmp_path / "straight", *flags)
    run = tmp_path / "stopped"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The losses file is flushed once a second from the start, and on an idle machine the 40,000 steps (~30K steps/s)
    # can end before the first flush: the Ctrl+C then came after the end. Flushed every 20 ms here (the losses are
    # the same), their first bytes show that training has begun, far from its end.
    often = ("import sys, core.runs.writer as w; w.FLUSH_EVERY = 0.02; from tui.cli import main; "
             "sys.exit(main())")
    p = subprocess.Popen([sys.executable, "-c", often, "train", "--data", str(words), "--out", str(run), "--quiet",
                          *flags], env=env, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while not ((run / "losses.f32").exists() and (run / "losses.f32").stat().st_size > 0):
            assert time.monotonic() < end and p.poll() is None
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, err
    k = json.loads((run / "run.json").read_text())["step"]
    assert 0 < k < 40000 and f"interrupted at step {k:,}" in err
    code, err = resume(capsys, run)
    assert code == 0, err
    resumed = json.loads((run / "metrics.json").read_text())
    assert [resumed[key] for key in LOSSES] == [straight[key] for key in LOSSES]
    assert (run / "losses.f32").read_bytes() == (tmp_path / "straight" / "losses.f32").read_bytes()


def test_live_settings_come_with_it(capsys, run_copy):
    _, run = run_copy
    code, err = resume(capsys, run, "--steps", "260", "--lr", "0.05", "--schedule", "constant")
    assert code == 0, err
    assert "from step 200 with lr 0.05, schedule constant, steps 260: " in err.splitlines()[0]
    info = json.loads((run / "run.json").read_text())
    assert info["step"] == 260 and info["train"]["lr"] == 0.05 and info["train"]["schedule"] == "constant"
    assert load_checkpoint(run / "model.pt").train_config.lr == 0.05


def _flag_and_value(s: settings.Setting) -> list[str]:
    if s.value_type == "bool":
        return [s.flag]
    value = {"choice": s.choices[-1] if s.choices else "", "data": "names"}.get(s.value_type, settings.fmt(s.default))
    return [s.flag, str(value).replace(",", "")]


@pytest.mark.parametrize("flags", [
    *[_flag_and_value(s) for s in settings.SETTINGS if s.cli and not s.live],
    ["--hidden", "32"], ["--emb-dim", "8"], ["--preset", "best"], ["--config", "recipe.toml"], ["--out", "elsewhere"],
], ids=lambda f: f[0])
def test_every_other_setting_is_refused_in_one_line(capsys, trained_run, flags):
    _, run = trained_run
    before = {n: fingerprint(run / n) for n in ("run.json", "model.pt", "losses.f32")}
    code, err = resume(capsys, run, *flags)
    named = settings.get(flags[0]).flag if flags[0] not in ("--preset", "--config", "--out") else flags[0]
    assert_cli_error(code, err, "--resume", named, "only live settings can", "--steps", "--lr")
    assert {n: fingerprint(run / n) for n in before} == before


def test_a_bad_run_is_one_line_each(capsys, tmp_path, trained_run):
    from helpers import copy_run

    _, good = trained_run
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    damaged_info = copy_run(good, tmp_path / "damaged-info")
    (damaged_info / "run.json").write_text("{")
    damaged_model = copy_run(good, tmp_path / "damaged-model")
    (damaged_model / "model.pt").write_bytes((good / "model.pt").read_bytes()[:500])
    cases = {
        tmp_path / "missing": "no such run directory",
        tmp_path / "empty": "not an mlp-tui run (no run.json)",
        tmp_path / "file": "is a file",
        damaged_info: "damaged run (run.json is not readable JSON)",
        damaged_model: "not a readable checkpoint",
        good: "at its end already, step 200 of 200; give a larger --steps",
    }
    for run, problem in cases.items():
        code, err = resume(capsys, run)
        assert_cli_error(code, err, f"--resume {run}", problem)


def test_a_run_being_trained_is_refused(capsys, run_copy):
    _, run = run_copy
    holder = ("import sys, time\nfrom core.runs.lock import RunLock\nlock = RunLock(sys.argv[1])\n"
              "print(1, flush=True)\ntime.sleep(600)\n")
    p = subprocess.Popen([sys.executable, "-c", holder, str(run)], stdout=subprocess.PIPE,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert p.stdout.readline().strip() == b"1"
        before = fingerprint(run / "run.json")
        code, err = resume(capsys, run, "--steps", "300")
        assert_cli_error(code, err, f"--resume {run}", f"being trained by another mlp-tui, pid {p.pid}")
        assert fingerprint(run / "run.json") == before
    finally:
        p.kill()
        p.wait()


def test_a_bare_name_is_a_run_in_the_runs_folder(capsys, run_copy):
    _, run = run_copy
    code, _, err = run_cli(capsys, ["train", "--resume", run.name, "--runs-dir", str(run.parent), "--steps", "210",
                                    "--quiet"])
    assert code == 0, err
    assert json.loads((run / "run.json").read_text())["step"] == 210


@pytest.mark.slow
def test_kill_9_before_the_first_checkpoint_is_listed_and_resumed_afresh(tmp_path, capsys):
    """The folder of a `train` killed right after it appears has no model: `runs` says why, the app's training
    process will not load it, and --resume trains it from the start in the same folder, as a new run would."""
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    root, flags = tmp_path / "runs", ["--n-embd", "4", "--hidden", "16", "--steps", "400"]
    run = root / "killed"
    # killed while it trains: with 400 steps its end (model.pt) could come before the kill on a loaded machine;
    # the resume gives the 400 again (steps is a live setting, and the schedule's decay is at a step, not a share)
    p = subprocess.Popen([*COMMAND, "train", "--data", str(words), "--out", str(run), "--quiet", *flags[:-1],
                          str(TRAINS_ON)], env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 60
        while not (run / "run.json").exists():
            assert time.monotonic() < end and p.poll() is None
            time.sleep(0.002)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        p.kill()
    assert not (run / "model.pt").exists()
    (r,) = list_runs(root)
    assert r.status == "interrupted" and r.reason == NO_CHECKPOINT == "interrupted before its first checkpoint"
    code, out, _ = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    (row,) = [x for x in out.splitlines() if x.startswith("killed ")]
    assert row.rstrip().endswith("interrupted before its first checkpoint"), out
    _app_refuses(run)
    created = json.loads((run / "run.json").read_text())["created"]
    time.sleep(1.1)  # run.json's "created" has whole seconds: the rewritten one must differ
    code, err = resume(capsys, run, "--steps", "400")
    assert code == 0, err
    assert err.splitlines()[0] == (f"{run}: interrupted before its first checkpoint, so there are no weights to "
                                   f"continue: training it afresh on its own settings, in the same folder (its files "
                                   f"are rewritten)")
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "done" and info["step"] == 400 and info["created"] != created
    evals = [json.loads(x)["step"] for x in (run / "evals.jsonl").read_text().splitlines()]
    assert evals == [0, 400]  # one timeline, from step 0
    new = train(capsys, words, tmp_path / "new", *flags)
    again = json.loads((run / "metrics.json").read_text())
    assert [again[k] for k in LOSSES] == [new[k] for k in LOSSES]
    assert (run / "losses.f32").read_bytes() == (tmp_path / "new" / "losses.f32").read_bytes()
    (r,) = list_runs(root)
    assert r.status == "done" and r.reason == ""


def _app_refuses(run: Path) -> None:
    """The app's training process (its "continue" in the runs view) says why there is nothing to continue."""
    import queue

    from core.link import protocol as P
    from core.link.pump import Pump

    out: queue.Queue = queue.Queue()
    Pump(out).load(str(run))
    errors = []
    while not out.empty():
        m = out.get_nowait()
        if isinstance(m, P.Error):
            errors.append(m.message)
    assert errors == [f"cannot load the run: {run}: interrupted before its first checkpoint: there are no weights "
                      f"to continue"], errors


def test_a_sweep_trial_started_afresh_stays_its_trial(capsys, run_copy):
    from helpers import patch_info

    _, run = run_copy
    (run / "model.pt").unlink()
    patch_info(run, status="running", step=0, study="s1", trial=3)
    code, err = resume(capsys, run)
    assert code == 0, err
    assert "training it afresh" in err.splitlines()[0]
    info = json.loads((run / "run.json").read_text())
    assert (info["study"], info["trial"], info["step"], info["status"]) == ("s1", 3, 200, "done")


def test_a_resumed_keep_best_run_ends_as_an_unstopped_one_with_one_evaluation_at_its_step(capsys, tmp_path):
    """With keep_best and patience (the best and single presets'): the same losses and weights as one 600-step run,
    and evals.jsonl has one line at step 250, where the run went on (the unit tests, tests/unit/test_keepbest.py,
    put the best dev loss before the stop; here the evaluations come when the clock says)."""
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    flags = [*PLAIN, "--keep-best", "--patience", "1000"]
    straight = train(capsys, words, tmp_path / "straight", *flags, "--steps", "600")
    train(capsys, words, tmp_path / "stopped", *flags, "--steps", "250")
    code, err = resume(capsys, tmp_path / "stopped", "--steps", "600")
    assert code == 0, err
    resumed = json.loads((tmp_path / "stopped" / "metrics.json").read_text())
    assert [resumed[k] for k in (*LOSSES, "kept")] == [straight[k] for k in (*LOSSES, "kept")]
    assert same_weights(tmp_path / "stopped", tmp_path / "straight")
    steps = [json.loads(line)["step"] for line in (tmp_path / "stopped" / "evals.jsonl").read_text().splitlines()]
    assert steps.count(250) == 1 and steps[0] == 0 and steps[-1] == 600


def test_an_ensembles_progress_bar_names_its_training_loss(capsys, tmp_path, monkeypatch):
    """The bar's training loss of an ensemble is its members' mean, beside the ensemble's dev: said so."""
    monkeypatch.setenv("COLUMNS", "200")
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    for flags, label in (([], " loss "), (["--members", "2", "--n-embd", "4", "--hidden", "16"], " members' mean ")):
        code, _, err = run_cli(capsys, ["train", "--data", str(words), "--out", str(tmp_path / label.strip()),
                                        "--steps", "50", *flags])
        assert code == 0, err
        bar = next(line for line in err.splitlines() if line.startswith("training "))
        assert label in bar and " dev " in bar and ("members' mean" in bar) == ("members" in label)

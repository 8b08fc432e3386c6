"""mlp-tui sweep: Optuna studies on the embedded storage, worker processes, pruning, a killed worker, show."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_cli_error, run_cli

from core.runs.folder import read_info
from core.sweeps.study import Budget, create_study, load_study, parse_space
from core.sweeps.workers import WorkerJob, worker_main

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())"]


def sweep_argv(words: Path, runs: Path, *extra: str) -> list[str]:
    return ["sweep", "--data", str(words), "--runs-dir", str(runs), "--n-hidden", "16", *extra]


@pytest.mark.slow
def test_two_workers_run_a_study_of_loadable_runs(capsys, words_file, tmp_path):
    runs = tmp_path / "runs"
    code, out, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "s", "--trials", "6", "--workers", "2",
                                                "--trial-steps", "300", "--space", "lr=0.01:0.5:log,init",
                                                "--seed", "3"))
    assert code == 0, err
    assert "6 complete" in err or "pruned" in err
    study = load_study("s", f"sqlite:///{runs / 'sweeps.db'}")
    every = study.get_trials()
    numbers = [t.number for t in every]
    assert len(numbers) == len(set(numbers))  # no trial number twice
    trials = [t for t in every if not t.user_attrs.get("skipped")]  # (a worker that lost a race stands down)
    assert len(trials) == 6 and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert len({t.params["lr"] for t in trials}) == 6  # the two workers' samplers are seeded apart
    for t in trials:
        run = Path(t.user_attrs["run"])
        info = read_info(run)
        assert info["study"] == "s" and info["trial"] == t.number and info["origin"] == "sweep"
        assert info["model"]["n_hidden"] == 16 and info["train"]["lr"] == pytest.approx(t.params["lr"])
        assert (run / "model.pt").is_file()
    code, out, _ = run_cli(capsys, ["runs", "--runs-dir", str(runs), "--study", "s"])
    assert code == 0 and out.count("-s-trial") == 6
    code, out, _ = run_cli(capsys, ["sweep", "show", "s", "--runs-dir", str(runs)])
    assert code == 0
    best = min((t for t in trials if t.value is not None), key=lambda t: t.value)
    assert f"best: trial {best.number}, dev {best.value:.4f}" in out
    assert f"--lr {best.params['lr']!r}" in out and "--n-hidden 16" in out and "mlp-tui train" in out
    import shlex

    line = next(x for x in out.splitlines() if x.strip().startswith("mlp-tui train"))
    argv = shlex.split(line)[1:]
    code, _, err = run_cli(capsys, [*argv, "--out", str(tmp_path / "again"), "--quiet"])
    assert code == 0, err
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["steps"] == best.user_attrs["steps"]
    assert again["test_loss"] == best.user_attrs["test"]  # the printed line trains the trial's very weights
    code, out, _ = run_cli(capsys, ["sweep", "show", "s", "--runs-dir", str(runs), "--recipe"])
    assert code == 0 and out.startswith("# mlp-tui sweep show s --recipe")
    (tmp_path / "best.toml").write_text(out)
    from tui.cli import build_parsers, resolve_settings

    v = resolve_settings(build_parsers()["train"].parse_args(["--config", str(tmp_path / "best.toml")]))
    assert v["lr"] == pytest.approx(best.params["lr"]) and v["init"] == best.params["init"] and v["n_hidden"] == 16
    code, out, _ = run_cli(capsys, ["sweep", "export", "s", "--runs-dir", str(runs)])
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("trial,state,dev") and len(lines) == 1 + len(every)  # skipped too
    assert sum(",skipped," in x for x in lines) == len(every) - 6


@pytest.mark.slow
def test_a_clearly_worse_trial_is_pruned(tmp_path, small_data, words_file, monkeypatch):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    study = create_study("p", url, seed=0)
    for _ in range(4):
        study.enqueue_trial({"lr": 0.3})
    study.enqueue_trial({"lr": 1e-4})  # 3,000x smaller: hopeless at every report
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # the worker's handlers stay out of pytest
    job = WorkerJob("p", url, {**_base(words_file), "n_hidden": 16}, parse_space("lr"), Budget(steps=600), 5, None,
                    str(tmp_path / "runs"))
    worker_main(job)
    trials = load_study("p", url).get_trials()
    states = [t.state.name for t in trials]
    assert states[:4] == ["COMPLETE"] * 4 and states[4] == "PRUNED", states
    assert trials[4].last_step < 600 and read_info(trials[4].user_attrs["run"])["study"] == "p"


def _base(words: Path) -> dict:
    from core import settings

    return {**settings.DEFAULTS, "data": str(words)}


@pytest.mark.slow
def test_a_killed_worker_leaves_its_trial_failed_and_the_study_resumes(capsys, words_file, tmp_path):
    runs = tmp_path / "runs"
    # one trial: the resume must still run it, as the killed one did not use up the budget (two took 12 s more)
    argv = [*COMMAND, *sweep_argv(words_file, runs, "--study", "k", "--trials", "1", "--workers", "1",
                                  "--trial-minutes", "0.1", "--heartbeat", "1", "--space", "lr=0.01:0.1:log")]
    p = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"sqlite:///{runs / 'sweeps.db'}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the trial is running
        time.sleep(0.3)
        try:
            trials = load_study("k", url).get_trials()
        except Exception:  # noqa: BLE001 - the study is not made yet
            continue
        if trials and trials[0].state.name == "RUNNING" and "run" in trials[0].user_attrs:
            break
    worker = [int(x) for x in subprocess.run(["pgrep", "-P", str(p.pid), "-f", "spawn"], capture_output=True,
                                             text=True).stdout.split()]
    assert worker, "no worker process"
    os.kill(worker[0], signal.SIGKILL)
    _, err = p.communicate(timeout=60)
    assert "stopped unexpectedly (exit -9)" in err
    time.sleep(3.5)  # the grace period: three heartbeats
    code, out, _ = run_cli(capsys, ["sweep", "show", "k", "--runs-dir", str(runs)])
    assert code == 0 and "1 interrupted" in out and "running" not in out.splitlines()[0]
    assert load_study("k", url).get_trials()[0].state.name == "FAIL"  # failed in the storage, never running
    code, _, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "k", "--trials", "1", "--workers", "1",
                                              "--trial-minutes", "0.1", "--heartbeat", "1", "--space",
                                              "lr=0.01:0.1:log"))  # (a resumed study keeps its budget)
    assert code == 0, err
    states = sorted(t.state.name for t in load_study("k", url).get_trials())
    assert states == ["COMPLETE", "FAIL"]  # the interrupted trial did not use up the budget


@pytest.mark.parametrize(("space", "fragment"), [("lr,wobble", "unknown setting 'wobble'"),
                                                 ("lr=1:0.1", "low end must be below"),
                                                 ("hidden=abc:600", "a whole number"),
                                                 ("lr=0:1:log", "must be > 0"),
                                                 ("seed", "not tuned by sweeps")])
def test_a_bad_space_is_one_line(capsys, words_file, tmp_path, space, fragment):
    code, _, err = run_cli(capsys, sweep_argv(words_file, tmp_path / "runs", "--study", "b", "--trials", "2",
                                              "--space", space))
    assert_cli_error(code, err, fragment)


@pytest.mark.slow
def test_a_broken_rule_is_skipped_not_failed(tmp_path, words_file, monkeypatch):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    study = create_study("r", url, seed=0)
    study.enqueue_trial({"arch": "hier", "block_size": 3})  # hier needs a power-of-two context
    study.enqueue_trial({"arch": "hier", "block_size": 4})
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    job = WorkerJob("r", url, {**_base(words_file), "n_hidden": 8}, parse_space("arch,block_size=2:8"),
                    Budget(steps=100), 1, None, str(tmp_path / "runs"))
    worker_main(job)
    trials = load_study("r", url).get_trials()
    assert "power of two" in trials[0].user_attrs["skipped"] and trials[0].state.name == "FAIL"
    assert trials[1].state.name == "COMPLETE" and len(trials) == 2  # the skipped one did not use the budget
    assert json.loads(json.dumps(trials[1].params)) == {"arch": "hier", "block_size": 4}


@pytest.mark.slow
async def test_the_sweeps_view_shows_a_study_and_applies_its_best_trial(harness, tmp_path, words_file, monkeypatch):
    from apphelpers import until
    from textual.widgets import DataTable, Input

    from tui.views.sweeps import SweepsView

    url = f"sqlite:///{tmp_path / 'v.db'}"
    study = create_study("view-study", url, seed=0)
    study.set_user_attr("base", json.dumps({"n_hidden": 16}))
    for lr in (0.05, 0.3, 0.01):
        study.enqueue_trial({"lr": lr})
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    worker_main(WorkerJob("view-study", url, {**_base(words_file), "n_hidden": 16}, parse_space("lr"),
                          Budget(steps=300), 3, None, str(tmp_path / "runs")))
    trials = load_study("view-study", url).get_trials()
    best = min(trials, key=lambda t: t.value)
    app = harness.app(hidden=32)
    app.storage = url
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, SweepsView) and app.screen.summaries, timeout=20,
                    what="the studies")
        studies = app.screen.query_one("#studies", DataTable)
        assert studies.row_count == 1 and "view-study" in str(studies.get_row_at(0)[0])
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.detail is not None, timeout=20, what="the study's leaderboard")
        board = app.screen.query_one("#board", DataTable)
        assert board.row_count == 3
        assert [str(board.get_row_at(i)[0]) for i in range(3)] == [str(t.number) for t in sorted(trials,
                                                                                             key=lambda t: t.value)]
        assert f"{best.value:.4f}" in str(board.get_row_at(0)[1])
        await pilot.press("a")
        await pilot.pause(0.2)
        assert float(app.main_screen.query_one("#f-lr", Input).value) == pytest.approx(best.params["lr"], rel=1e-5)
        assert app.main_screen.query_one("#f-n_hidden", Input).value == "16"  # the study's base settings too
        await pilot.press("c")
        await until(pilot, lambda: len(app.overlays) == 3, what="the top trials on the plot")
        assert set(app.overlays) == {t.user_attrs["run"] for t in trials}


@pytest.mark.slow
def test_resuming_with_other_choices_is_one_line(capsys, words_file, tmp_path):
    runs = tmp_path / "runs"
    code, _, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "c", "--trials", "1", "--workers", "1",
                                              "--trial-steps", "100", "--space", "init=lecture|kaiming"))
    assert code == 0, err
    code, _, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "c", "--trials", "2", "--workers", "1",
                                              "--trial-steps", "100", "--space", "init=kaiming|lecture"))
    assert_cli_error(code, err, "keeps its choices", "init=lecture|kaiming")


@pytest.mark.slow
def test_resuming_with_another_scale_or_other_settings_is_one_line(capsys, words_file, tmp_path):
    """A log range resumed as a linear one ended each worker in a traceback at its first suggestion (Optuna:
    "Cannot set different log configuration"); another --space was refused as a fixed setting gone missing."""
    runs = tmp_path / "runs"
    code, _, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "c", "--trials", "1", "--workers", "1",
                                              "--trial-steps", "100", "--space", "lr"))  # (lr: log by default)
    assert code == 0, err
    for space, fragments in (("lr=0.01:0.5", ("--space lr", "on a log scale, not linear", "lr=LO:HI:log")),
                             ("lr=0.01:0.5:linear", ("on a log scale, not linear",)),
                             ("n_embd", ("--space n_embd: study c tunes lr", "give --space lr", "--study c-2"))):
        code, _, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "c", "--trials", "2", "--workers",
                                                  "1", "--trial-steps", "100", "--space", space))
        assert_cli_error(code, err, *fragments)
    code, _, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "c", "--trials", "2", "--workers", "1",
                                              "--trial-steps", "100", "--space", "lr=0.01:0.5:log"))
    assert code == 0 and "2 complete" in err, err  # a narrower range on the same scale: fine

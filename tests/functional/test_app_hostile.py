"""The app under hostile input: bad data and sizes on reset, damaged runs, quitting mid-training.

Each case ends with a clear message on screen, the app still running, and the model that was
training (and its run directory) untouched.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from apphelpers import Harness, params_of, pause_app, running, screen_text, text_of, toasts, type_into, until

from core.runs.folder import read_info
from tui.views.runs import RunsView


@pytest.mark.slow
async def test_a_missing_data_file_is_refused_in_the_field(harness: Harness, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # short relative paths: typing is one key press per character
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        await type_into(pilot, "data", "nope.txt", then="escape")
        await pilot.pause(0.1)
        assert "no such file" in text_of(app, "#err-data")
        await pilot.press("r")
        await until(pilot, lambda: any("fix these first" in t for t in toasts(app)), what="the refusal")
        assert app.status == "running"


@pytest.mark.slow
async def test_a_binary_data_file_fails_on_reset_and_the_old_model_trains_on(harness: Harness, tmp_path: Path,
                                                                            monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "blob.txt"
    bad.write_bytes(bytes(range(256)) * 40)
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        run = app.run_path
        trainer = harness.trainer
        await type_into(pilot, "data", "blob.txt", then="escape")
        await pilot.press("r")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", what="the question")
        await pilot.press("y")
        await until(pilot, lambda: any("blob.txt" in t for t in toasts(app)), what="the data error on screen")
        assert "blob.txt" in app.last_error and "Traceback" not in app.last_error
        assert harness.pump.trainer is trainer and app.run_path == run  # the old model is still there
        step = trainer.step
        await until(pilot, lambda: trainer.step > step + 100 and app.status == "running",
                    what="the old model to train on")


@pytest.mark.slow
async def test_an_absurd_model_is_refused_before_allocation(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        trainer = harness.trainer
        await type_into(pilot, "n_hidden", "100000", then="escape")
        await type_into(pilot, "n_embd", "4096", then="escape")
        await pilot.pause(0.1)
        assert "too large" in params_of(app) and "GiB" in params_of(app)  # as you type
        await pilot.press("r")
        await until(pilot, lambda: any("parameters" in t and "GiB" in t for t in toasts(app)),
                    what="the size in the refusal")
        assert app.screen.__class__.__name__ != "ConfirmScreen"  # refused at once, nothing to confirm
        assert harness.pump.trainer is trainer


@pytest.mark.slow
async def test_a_damaged_run_is_refused_and_the_current_run_goes_on(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await running(pilot, harness, min_step=100)
        await pause_app(pilot)
        current = Path(app.run_path)
        damaged = current.parent / "damaged-run"
        damaged.mkdir()
        for f in current.iterdir():
            (damaged / f.name).write_bytes(f.read_bytes())
        data = (damaged / "model.pt").read_bytes()
        (damaged / "model.pt").write_bytes(data[: len(data) // 3])
        trainer = harness.trainer
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, RunsView), what="the runs view")
        names = [r.path.name for r in app.screen.runs]
        app.screen.query_one("DataTable").move_cursor(row=names.index("damaged-run"))
        await pilot.press("enter")
        await until(pilot, lambda: any("cannot load the run" in t for t in toasts(app)), what="the refusal")
        assert any("truncated" in t for t in toasts(app))
        assert harness.pump.trainer is trainer and app.run_path == str(current)
        assert read_info(current)["step"] == trainer.step


@pytest.mark.slow
async def test_q_and_ctrl_c_exit_within_a_second(harness: Harness) -> None:
    for key in ("q", "ctrl+c"):
        app = harness.app(hidden=32)
        async with app.run_test(size=(100, 30)) as pilot:
            await running(pilot, harness, min_step=100)
            backend = harness.backends[-1]
            assert backend.process.is_alive(), key  # training (test_app's quit test was this one's q half)
            run = app.run_path
            t = time.monotonic()
            await pilot.press(key)
            await until(pilot, lambda app=app: not app.is_running or app.proc is None, timeout=2, what="the exit")
            took = time.monotonic() - t
            assert took < 1.0, (key, took)
            assert not backend.process.is_alive() and app.proc is None, key
        info = read_info(run)
        assert info["status"] == "stopped" and info["step"] > 0, key  # what was trained is on disk


# ---------------------------------------------------------------- boundaries: the app's side


def _cli_run(runs: Path, words: Path, name: str, *extra: str) -> Path:
    from tui.cli import main

    out = runs / name
    assert main(["train", "--data", str(words), "--steps", "300", "--hidden", "16", "--out", str(out), "--quiet",
                 *extra]) == 0
    return out


def _runs_dir() -> Path:
    import os

    return Path(os.environ["MLP_TUI_RUNS_DIR"])


@pytest.mark.slow
async def test_a_load_after_a_failed_start_does_not_hang(harness: Harness, tmp_path: Path) -> None:
    bad = tmp_path / "blob.txt"
    bad.write_bytes(bytes(range(256)) * 40)
    saved = _cli_run(_runs_dir(), harness.data, "saved")
    app = harness.app(data=str(bad), hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until(pilot, lambda: app.status == "error", what="the failed start")
        assert harness.pump.trainer is None
        app.load_run(str(saved))
        await until(pilot, lambda: app.status == "done" and harness.pump.trainer is not None, what="the load")
        assert harness.trainer.step == 300


@pytest.mark.slow
async def test_a_finished_run_loads_as_done_and_space_says_how_to_go_on(harness: Harness) -> None:
    saved = _cli_run(_runs_dir(), harness.data, "finished")
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        app.load_run(str(saved))
        await until(pilot, lambda: app.status == "done", what="the loaded run")
        status = str(app.main_screen.query_one("#status").render())
        assert status.startswith("done") and "raise steps" in status
        await pilot.press("space")
        await until(pilot, lambda: any("training is done; raise steps" in t for t in toasts(app)), what="the hint")
        assert app.status == "done"


@pytest.mark.slow
async def test_a_run_another_process_trains_cannot_be_continued_but_can_be_compared(harness: Harness) -> None:
    import subprocess
    import sys

    saved = _cli_run(_runs_dir(), harness.data, "theirs")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from core.runs.lock import RunLock; "
                               "l = RunLock(sys.argv[1]); print('locked', flush=True); time.sleep(600)", str(saved)],
                              stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
    assert holder.stdout.readline().strip() == b"locked"
    app = harness.app(hidden=32)
    try:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await running(pilot, harness)
            trainer = harness.trainer
            await pilot.press("o")
            await until(pilot, lambda: isinstance(app.screen, RunsView), what="the runs view")
            names = [r.path.name for r in app.screen.runs]
            row = names.index("theirs")
            assert f"live {holder.pid}" in screen_text(app)
            app.screen.query_one("DataTable").move_cursor(row=row)
            await pilot.press("enter")
            await until(pilot, lambda: any(f"being trained by another mlp-tui, pid {holder.pid}" in t
                                           for t in toasts(app)), what="the refusal")
            assert isinstance(app.screen, RunsView) and harness.pump.trainer is trainer
            await pilot.press("c")
            assert str(saved) in app.overlays  # comparing its curve is fine
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
async def test_damaged_and_hostile_run_folders_list_without_crashing(harness: Harness) -> None:
    import json

    runs = _runs_dir()
    good = _cli_run(runs, harness.data, "good")
    for name, change in (("inf-step", lambda t: t.replace('"step": 300', '"step": 1e999')),
                         ("[red]markup[b]", lambda t: t), ("evil\x1b]2;PWNED\x07", lambda t: t)):
        d = runs / name
        d.mkdir()
        for f in good.iterdir():
            if f.name != "lock":
                (d / f.name).write_bytes(f.read_bytes())
        (d / "run.json").write_text(change((d / "run.json").read_text()))
    import os

    os.mkfifo(runs / "inf-step" / "evals.jsonl.fifo")
    (runs / "fifo-run").mkdir()
    os.mkfifo(runs / "fifo-run" / "run.json")
    json.loads((good / "run.json").read_text())
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, RunsView), what="the runs view")
        by_name = {r.path.name: r for r in app.screen.runs}
        assert by_name["inf-step"].status == "damaged" and "step is inf" in by_name["inf-step"].error
        assert by_name["fifo-run"].status == "damaged" and "not a regular file" in by_name["fifo-run"].error
        assert not by_name["[red]markup[b]"].error and not by_name["good"].error
        table = screen_text(app)
        assert "[red]markup[b]" in table and "evil\\x1b]2;PWNED\\x07" in table and "damaged" in table
        names = [r.path.name for r in app.screen.runs]
        app.screen.query_one("DataTable").move_cursor(row=names.index("[red]markup[b]"))
        await pilot.press("enter")  # a name with markup loads like any other
        await until(pilot, lambda: app.status in ("done", "paused") and "markup" in str(app.run_path),
                    what="the load")
        await until(pilot, lambda: any("[red]" in t and "markup" in t for t in toasts(app)),
                    what="the name in the notice as text, not as markup")


@pytest.mark.slow
async def test_a_paste_into_the_score_view_is_one_capped_request(harness: Harness) -> None:
    from tui.views.scoring import MAX_CHARS, ScoringView

    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ScoringView), what="the score view")
        view = app.screen
        field = view.query_one("#score-input")
        for _ in range(2000):  # a paste arrives as a burst of changes
            field.insert_text_at_cursor("a")
        assert len(field.value) == MAX_CHARS
        await until(pilot, lambda: view.last is not None, what="the score")
        assert view.sent == 1 and view.last["text"] == "a" * MAX_CHARS
        step = harness.trainer.step
        await until(pilot, lambda: harness.trainer.step > step + 200, what="training to go on")


@pytest.mark.slow
async def test_a_temperature_near_zero_in_the_field_samples_greedily(harness: Harness) -> None:
    from tui.panes.samples import SamplesPane

    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        await type_into(pilot, "temperature", "1e-300")
        await until(pilot, lambda: harness.pump.temperature == 1e-300, what="the temperature")
        pane = app.main_screen.query_one(SamplesPane)
        await pilot.press("escape", "s")
        await until(pilot, lambda: len(pane.batches) >= 2 and len(set(n for n, _ in pane.batches[0][1])) == 1,
                    what="greedy samples")
        assert harness.backends[-1].process.is_alive() and app.status == "running"

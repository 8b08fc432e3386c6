"""The app under hostile input: bad data and sizes on reset, damaged runs, quitting mid-training.

Each case ends with a clear message on screen, the app still running, and the model that was
training (and its run directory) untouched.
"""

from __future__ import annotations

import time
from pathlib import Path

from apphelpers import Harness, pause_app, running, text_of, toasts, type_into, until

from core.runs import read_info
from tui.runs import RunsView


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
        assert app.state == "running"


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
        assert harness.worker.trainer is trainer and app.run_path == run  # the old model is still there
        step = trainer.step
        await until(pilot, lambda: trainer.step > step + 100 and app.state == "running",
                    what="the old model to train on")


async def test_an_absurd_model_is_refused_before_allocation(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        trainer = harness.trainer
        await type_into(pilot, "hidden", "100000", then="escape")
        await type_into(pilot, "emb_dim", "4096", then="escape")
        await pilot.pause(0.1)
        assert "too large" in text_of(app, "#params") and "GiB" in text_of(app, "#params")  # as you type
        await pilot.press("r")
        await until(pilot, lambda: any("parameters" in t and "GiB" in t for t in toasts(app)),
                    what="the size in the refusal")
        assert app.screen.__class__.__name__ != "ConfirmScreen"  # refused at once, nothing to confirm
        assert harness.worker.trainer is trainer


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
        assert harness.worker.trainer is trainer and app.run_path == str(current)
        assert read_info(current)["step"] == trainer.step


async def test_q_and_ctrl_c_exit_within_a_second(harness: Harness) -> None:
    for key in ("q", "ctrl+c"):
        app = harness.app(hidden=32)
        async with app.run_test(size=(100, 30)) as pilot:
            await running(pilot, harness, min_step=100)
            backend = harness.backends[-1]
            run = app.run_path
            t = time.monotonic()
            await pilot.press(key)
            await until(pilot, lambda app=app: not app.is_running or app.proc is None, timeout=2, what="the exit")
            took = time.monotonic() - t
            assert took < 1.0, (key, took)
            assert not backend.process.is_alive(), key
        info = read_info(run)
        assert info["status"] == "stopped" and info["step"] > 0, key  # what was trained is on disk

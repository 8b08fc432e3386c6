"""Keys typed during the app's transitions act on nothing that is being torn down.

q then o, typed within a second, crashed with "NoMatches: No nodes match 'DataTable' on RunsView()": the view
opened on a quitting app. The class: every key (views, help, the palette, reset, pause...) while quitting,
after a quit dialog's yes, during a reset and a load, and a view's thread finishing after its view or the
app has gone. Each case ends with no traceback and the app going on, or ending with status 0.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from apphelpers import Harness, pause_app, running, until

from tui.panes.plot import LossPlot
from tui.screens import ConfirmScreen
from tui.views import ViewScreen

# every key of the main screen and the views' own keys, and the ones a dialog or a field answers to
KEYS = ["o", "t", "d", "v", "f", "n", "k", "h", "x", "question_mark", "ctrl+p", "r", "space", "s", "e", "m", "w", "g",
        "ctrl+s", "escape", "enter", "y", "c", "a", "l", "tab", "q"]


def _state(app, harness: Harness) -> tuple:
    """What a key could change: the screens, the training processes started, the plot's toggles, the toasts."""
    plot = app.main_screen.query_one(LossPlot)
    return ([type(s).__name__ for s in app.screen_stack], len(harness.backends), plot.smooth, plot.last_only,
            len(app._notifications), dict(app.values))


@pytest.mark.slow
async def test_no_key_acts_once_quitting_has_begun(harness: Harness, monkeypatch, tmp_path: Path) -> None:
    """q's shutdown can take most of a second (the trainer saves), and keys typed meanwhile are handled before
    the exit: hold the exit back and type every key. Without the guard, ? and ctrl+p opened their screens and
    r started a new training process on the quitting app."""
    monkeypatch.chdir(tmp_path)  # (g would write a screenshot here)
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness, min_step=50)
        exits: list = []
        real_exit = app.exit
        monkeypatch.setattr(app, "exit", lambda *a, **k: exits.append(a))
        await pilot.press("q")
        assert exits and app.leaving
        before = _state(app, harness)
        for key in KEYS:
            await pilot.press(key)
            assert _state(app, harness) == before, key
        await app.run_action("view('runs')")  # the palette's way in
        await app.run_action("help")
        assert _state(app, harness) == before
        assert not list(tmp_path.glob("*.svg"))  # no screenshot either
        real_exit()
    assert app.return_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("keys", [("o", "t", "x"), ("question_mark", "ctrl+p", "r", "d")])
async def test_keys_right_after_q_end_the_app_cleanly(harness: Harness, keys: tuple[str, ...]) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness, min_step=50)
        await pilot.press("q", *keys)
    assert app.return_code == 0 and app._exception is None


@pytest.mark.slow
async def test_keys_after_yes_to_the_quit_question(harness: Harness) -> None:
    """The question asked when the run is not being saved: y, then keys before the app is gone."""
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness, min_step=50)
        app.run_path = None  # as when the runs folder could not be written
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("ctrl+c")  # again, inside the dialog: no second question on top of it
        assert sum(isinstance(s, ConfirmScreen) for s in app.screen_stack) == 1
        await pilot.press("y", "o", "question_mark", "r", "t")
    assert app.return_code == 0 and app._exception is None


def _from_a_thread(fn, *args) -> dict:
    """What app.call_from_thread gives a worker thread: its result or its exception's repr."""
    out: dict = {}

    def call() -> None:
        try:
            out["result"] = fn(*args)
        except BaseException as e:  # noqa: BLE001  (what a worker would die of)
            out["error"] = repr(e)

    thread = threading.Thread(target=call)
    thread.start()
    return {"thread": thread, "out": out}


@pytest.mark.slow
async def test_a_workers_answer_for_a_closed_view_is_dropped(harness: Harness) -> None:
    """The sweeps and exercises views read the disk in a thread and hand the result over with call_from_thread;
    an answer arriving after esc closed the view was drawn into its removed widgets (NoMatches in the worker,
    which takes the app down). Now it is dropped, for any view and any widget."""
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness, min_step=50)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ViewScreen), what="the dataset view")
        view = app.screen
        await pilot.press("escape")
        await until(pilot, lambda: not view.is_attached, what="the view to go")
        late = _from_a_thread(app.call_from_thread, view.set_status, "too late")
        await until(pilot, lambda: not late["thread"].is_alive(), what="the late answer")
        assert late["out"] == {"result": None}
        assert app.is_running and app._exception is None


@pytest.mark.slow
async def test_keys_during_a_reset_and_a_load(harness: Harness) -> None:
    """Views opened and closed, and other keys, while a reset's fresh model loads, then while a run loads:
    the app ends up training the new model, with no traceback."""
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness, min_step=50)
        await pause_app(pilot)
        first = app.run_path
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the reset question")
        await pilot.press("y", "f", "escape", "d", "o", "escape", "n", "escape", "h", "v", "escape", "m", "s", "e")
        await until(pilot, lambda: app.run_path not in (None, first) and app.status != "loading",
                    what="the fresh model")
        await pilot.press("escape")
        app.load_run(first)
        await pilot.press("d", "escape", "f", "escape", "space", "o", "escape", "t", "escape", "x", "escape")
        await until(pilot, lambda: app.run_path == first and app.status != "loading", what="the loaded run")
        assert app.is_running and app._exception is None


@pytest.mark.slow
async def test_r_typed_before_the_training_process_starts_starts_one(harness: Harness) -> None:
    """The first frame schedules the training process's start; r typed before it runs starts one too, and the
    scheduled start then started a second, leaving the first training with no one to stop it."""
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.proc is not None, what="the training process")
        app.proc.close()
        app.proc = None  # as before the scheduled start has run
        await app.run_action("reset")
        app.start_training()  # the scheduled start, arriving second
        await running(pilot, harness, min_step=10)
        started = [b for b in harness.backends if b.process.is_alive()]
        assert len(started) == 1 and app.proc is started[0]


@pytest.mark.slow
async def test_a_screen_closes_once_however_often_it_is_answered(harness: Harness) -> None:
    """enter enter on a run: the second row selection, queued before the first closed the runs view, dismissed
    again and popped the main screen (ScreenStackError, the app gone). Also a dialog answered twice (y and a
    click) and a view's esc twice: each closes once, its answer taken once."""
    from tui.views.runs import RunsView

    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness, min_step=50)
        await pause_app(pilot)
        first = app.run_path
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the reset question")
        dialog = app.screen
        dialog.action_answer(True)
        dialog.action_answer(True)  # (a click on Yes, queued behind the y)
        await until(pilot, lambda: app.run_path not in (None, first) and app.status != "loading",
                    what="the fresh model")
        assert len(harness.pumps) == 1 and len(app.screen_stack) == 1  # one reset, the main screen kept
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, RunsView), what="the runs view")
        rows = [str(r.path) for r in app.screen.runs]
        app.screen.query_one("DataTable").move_cursor(row=rows.index(first))
        await pilot.press("enter", "enter", "enter")
        await until(pilot, lambda: app.run_path == first and app.status != "loading", what="the loaded run")
        await pilot.press("d", "escape", "escape", "escape")
        await pilot.pause(0.2)
        assert app.is_running and app._exception is None and len(app.screen_stack) == 1


@pytest.mark.slow
async def test_a_resize_while_quitting_or_after_is_ignored(harness: Harness) -> None:
    """SIGWINCH (a terminal resized) during the exit: the resize handler found the screens gone (IndexError)."""
    from textual import events
    from textual.geometry import Size

    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness, min_step=10)
        await pilot.press("q")
    app.on_resize(events.Resize(Size(50, 10), Size(50, 10)))  # arriving after the screens were taken down
    assert app.return_code == 0

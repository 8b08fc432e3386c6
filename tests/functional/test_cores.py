"""The cores training uses: an ensemble's members a core each in `mlp-tui train` and in a lone app (up to the cores
here), one core in an app served to a browser tab and in a sweep's workers; the status line says which."""
from __future__ import annotations

import os
import re
import signal

import pytest
from apphelpers import Harness, running, text_of, until

from core.kernels.members import MembersKernel
from core.sweeps.study import Budget, create_study, load_study, parse_space
from core.sweeps.workers import WorkerJob, worker_main

ENSEMBLE = {"members": 4, "n_embd": 8, "n_hidden": 32}
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"  # what textual-serve sets for each tab's app


def cores_shown(app) -> int:
    m = re.search(r"/s on (\d+) cores?\b", text_of(app, "#status"))
    assert m, f"no cores in the status line: {text_of(app, '#status')!r}"
    return int(m.group(1))


async def shown_and_used(harness: Harness) -> tuple[int, int]:
    """The cores the status line shows for a running ensemble, and the cores its kernel's members train on."""
    app = harness.app(**ENSEMBLE)
    async with app.run_test(size=(160, 48)) as pilot:
        await running(pilot, harness, min_step=50)
        kernel = harness.trainer.kernel
        assert isinstance(kernel, MembersKernel) and kernel.name == "numba", kernel.name  # compiled: threads help
        await until(pilot, lambda: "core" in text_of(app, "#status"), what="the cores in the status line")
        return cores_shown(app), kernel.cores


@pytest.mark.slow
async def test_a_lone_app_trains_an_ensembles_members_a_core_each(harness: Harness, monkeypatch) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    shown, used = await shown_and_used(harness)
    assert shown == used == min(ENSEMBLE["members"], os.cpu_count() or 1)


@pytest.mark.slow
async def test_a_served_app_keeps_to_one_core(harness: Harness, monkeypatch) -> None:
    monkeypatch.setenv("TEXTUAL_DRIVER", WEB_DRIVER)
    shown, used = await shown_and_used(harness)
    assert shown == used == 1


@pytest.mark.slow
async def test_a_single_model_shows_one_core_in_a_lone_app(harness: Harness, monkeypatch) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    app = harness.app(n_hidden=32)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness, min_step=50)
        await until(pilot, lambda: "core" in text_of(app, "#status"), what="the cores in the status line")
        assert cores_shown(app) == 1 and "on 1 core │" in text_of(app, "#status")
        assert app.query_one("#status").size.height == 1  # at 80 columns the lr gives way (it is in the form)
        assert app.query_one("#plot").every == 0.0  # the UI has a core of its own: the plot redraws at its rate


@pytest.mark.slow
def test_a_sweeps_ensemble_trials_keep_to_one_core(tmp_path, words_file, monkeypatch):
    from core import settings
    from core.engine.train import Trainer

    seen: list[int] = []
    publish = Trainer.publish
    monkeypatch.setattr(Trainer, "publish", lambda self: seen.append(self.cores) or publish(self))
    run = MembersKernel.run
    used: list[int] = []
    monkeypatch.setattr(MembersKernel, "run", lambda self, *a: used.append(self.cores) or run(self, *a))
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # the worker's handlers stay out of pytest
    url = f"sqlite:///{tmp_path / 's.db'}"
    create_study("s", url, seed=0)
    base = {**settings.DEFAULTS, "data": str(words_file), **ENSEMBLE}
    worker_main(WorkerJob("s", url, base, parse_space("lr"), Budget(steps=300), 1, None, str(tmp_path / "runs")))
    assert [t.state.name for t in load_study("s", url).get_trials()] == ["COMPLETE"]
    assert used and set(used) == {1} and seen and set(seen) == {1}  # the snapshots the status line would draw


@pytest.mark.slow
async def test_while_an_ensemble_holds_every_core_the_plot_redraws_once_a_second(harness: Harness,
                                                                                  monkeypatch) -> None:
    """The UI's drawing takes its time from the members when they train on every core (four plot redraws a second
    at 160x48 took a tenth of a core): the timer then redraws the plot once a second; paused, at its own rate."""
    import time

    from tui import hosting
    from tui.panes.plot import BUSY_REDRAW, LossPlot

    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    monkeypatch.setattr(hosting.os, "cpu_count", lambda: 2)  # a 2-core machine: the members take both
    app = harness.app(**ENSEMBLE)
    async with app.run_test(size=(160, 48)) as pilot:
        await running(pilot, harness, min_step=50)
        plot = app.query_one(LossPlot)
        await until(pilot, lambda: plot.every == BUSY_REDRAW, what="the plot to slow down")
        drawn: list[float] = []
        redraw = plot.redraw

        def counted() -> None:
            drawn.append(time.monotonic())
            redraw()

        monkeypatch.setattr(plot, "redraw", counted)
        await pilot.pause(3.5)
        assert 2 <= len(drawn) <= 4, drawn  # at the timer's 4 a second: 14
        assert all(b - a >= BUSY_REDRAW for a, b in zip(drawn, drawn[1:])), drawn
        assert cores_shown(app) == 2
        await pilot.press("space")
        await until(pilot, lambda: app.status == "paused" and plot.every == 0.0, what="paused: drawn at once")

"""Shared by the Pilot tests: a harness that runs the app with its trainer in a thread, and screen readers."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import textual.app
import textual.pilot
from conftest import SMALL_WORDS, TRAINS_ON, write_words
from textual._wait import wait_for_idle
from textual.widgets import Input

from core.engine.train import Trainer
from core.link import pump as link_pump
from core.link.transport import TrainerThread
from tui.app import MLPApp

# SMALL_WORDS lacks q and x: with these the vocabulary is a-z plus the boundary, 27 characters.


WORDS = SMALL_WORDS + ["quinn", "xavier", "jack", "felix", "maxine", "quentin", "roxy", "jaxon", "quincy", "dexter"]


def params(vocab: int, block: int, emb: int = 10, hidden: int = 200) -> int:
    """The MLP's parameter count: embedding table, hidden layer with bias, output layer with bias."""
    return vocab * emb + (block * emb) * hidden + hidden + hidden * vocab + vocab


class Harness:
    """Builds apps on the test word list and keeps the thread backends and the training processes' pumps they start."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.backends: list[TrainerThread] = []
        self.pumps: list[link_pump.Pump] = []

    def app(self, **values) -> MLPApp:
        """An app training on the harness's data; `steps` defaults to TRAINS_ON, so the run is still training
        whenever the test acts on it (pass steps= for a run that must finish)."""
        def factory() -> TrainerThread:
            self.backends.append(TrainerThread())
            return self.backends[-1]

        return MLPApp({"data": str(self.data), "steps": TRAINS_ON, **values}, backend_factory=factory)

    @property
    def pump(self) -> link_pump.Pump:
        assert self.pumps, "no training process started"
        return self.pumps[-1]

    @property
    def trainer(self) -> Trainer:
        assert self.pump.trainer is not None, "the training process has no trainer yet"
        return self.pump.trainer


def make_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The harness fixture (in conftest.py): the word list, a recording pump, a short idle wait."""
    h = Harness(write_words(tmp_path / "words.txt", WORDS))

    class RecordingPump(link_pump.Pump):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            h.pumps.append(self)

    monkeypatch.setattr(link_pump, "Pump", RecordingPump)
    # Pilot waits after each key until the process looks idle (CPU time stalls), for up to 1 s twice
    # per key; a trainer thread in this process keeps it busy, so it never looks idle: cap that wait at one
    # of its 20 ms sleeps (messages are still waited for by Pilot's own check of the screen's queues). At
    # 0.05 s, three sleeps, test_app.py and test_app_transitions.py took 14% longer (102 and 97 s against
    # 83 and 87 s, interleaved on a loaded 2-core machine).
    short = functools.partial(_bounded_idle, max_wait=0.02)
    monkeypatch.setattr(textual.app, "wait_for_idle", short, raising=False)
    monkeypatch.setattr(textual.pilot, "wait_for_idle", short, raising=False)
    return h


async def _bounded_idle(min_sleep: float = 0.0, max_sleep: float = 1.0, *, max_wait: float) -> None:
    await wait_for_idle(min_sleep, min(max_sleep, max_wait))


# ---- helpers ----
async def until(pilot, cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Let the app run until cond() holds; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            app = pilot.app
            step = app.snapshot["step"] if app.snapshot else None
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (app status {app.status!r}, "
                                 f"step {step}, last error {app.last_error!r})")
        await pilot.pause(0.05)


async def running(pilot, h: Harness, min_step: int = 1) -> None:
    """Wait until the app shows a running model that has taken at least min_step steps."""
    app = pilot.app
    await until(pilot, lambda: app.status == "running" and app.snapshot is not None
                and app.snapshot["step"] >= min_step and bool(h.pumps) and h.pump.trainer is not None,
                timeout=15, what="training to start")


async def pause_app(pilot) -> None:
    await pilot.press("space")
    await until(pilot, lambda: pilot.app.status == "paused", what="the app to say paused")


async def type_into(pilot, key: str, text: str, then: str | None = "enter") -> None:
    """Focus a field and type over its text with real key presses; then Enter (or another key)."""
    field = pilot.app.query_one(f"#f-{key}", Input)
    field.focus()
    await pilot.pause()
    await pilot.press("ctrl+shift+a", *text)  # select all (Input's binding), then type over it
    assert field.value == text
    if then:
        await pilot.press(then)


def screen_text(app: MLPApp) -> str:
    """The terminal as the user sees it, one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def text_of(app: MLPApp, selector: str) -> str:
    """What a widget shows on screen inside its border and padding, one line per row."""
    region = app.query_one(selector).content_region
    rows = screen_text(app).split("\n")[region.y : region.bottom]
    return "\n".join(row[region.x : region.right] for row in rows)


def words_of(app: MLPApp, selector: str) -> str:
    """text_of with all whitespace (line wrapping included) as single spaces."""
    return " ".join(text_of(app, selector).split())


def params_of(app: MLPApp) -> str:
    """The form's summary under its fields (the parameter count, or what to fix), as words. The form of every
    setting is taller than a 40-row terminal, so the summary may be scrolled out of view: read what it says."""
    return " ".join(str(app.query_one("#params").render()).split())


def toasts(app: MLPApp) -> list[str]:
    """The notifications on screen, each as one line of text (needs run_test(notifications=True))."""
    out = []
    for toast in app.screen.query("Toast"):
        region = toast.content_region
        rows = screen_text(app).split("\n")[region.y : region.bottom]
        out.append(" ".join(" ".join(row[region.x : region.right] for row in rows).split()))
    return out


def status_step(app: MLPApp) -> int:
    m = re.search(r"step ([\d,]+)/", text_of(app, "#status"))
    assert m, f"no step count in the status line: {text_of(app, '#status')!r}"
    return int(m.group(1).replace(",", ""))


# ---- tests ----


async def type_in_view(pilot, selector: str, text: str) -> None:
    """Empty the screen's Input `selector`, then type `text` with real key presses (a view's query field)."""
    field = pilot.app.screen.query_one(selector)
    while field.value:
        await pilot.press("backspace")
    await pilot.press(*["space" if c == " " else c for c in text])
    assert field.value == text

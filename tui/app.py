"""The Textual app: controls, live loss plot, split losses, sampled names, status line.

Training runs in a spawned process (core.link.transport); the app polls its queue on a timer and never
waits on it, so keys stay instant and the trainer keeps its speed.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Select, Static

from core import settings
from core.link import protocol as P
from core.status import Status
from core.sweeps.study import storage_url
from core.tokens import DATA_SETTINGS
from tui.compare import CompareRuns
from tui.events import TrainingEvents
from tui.hosting import core_budget
from tui.keys import bindings
from tui.lifecycle import Lifecycle
from tui.messages import LiveChange, PendingChanged
from tui.palette import MLPCommands
from tui.panes.controls import ControlsPane
from tui.panes.fields import format_value
from tui.panes.plot import LAST_N, LossPlot
from tui.panes.samples import SamplesPane
from tui.panes.splits import SplitLosses
from tui.panes.status import StatusLine
from tui.screens import ConfirmScreen, HelpScreen
from tui.views import ViewScreen
from tui.views.dataset import DatasetView
from tui.views.embeddings import EmbeddingsView
from tui.views.exercises import ExercisesView
from tui.views.health import HealthView
from tui.views.lrfind import LRFindView
from tui.views.neighbours import NeighboursView
from tui.views.runs import RunsView
from tui.views.scoring import ScoringView
from tui.views.sweeps import SweepsView
from tui.views.tokenizer import TokenizerView

POLL_INTERVAL = 0.1  # text panes and status at ~10 Hz
PLOT_INTERVAL = 0.25  # plot redraws at most 4 times a second
VIEWS: dict[str, type[ViewScreen]] = {
    "embeddings": EmbeddingsView, "lr_find": LRFindView, "score": ScoringView, "health": HealthView,
    "dataset": DatasetView, "runs": RunsView, "sweeps": SweepsView,
    "exercises": ExercisesView,
    "neighbours": NeighboursView, "tokenizer": TokenizerView,
}
MIN_SIZE = (60, 18)  # below this the panes cannot show their content: a notice instead
LIVE_VIEWS = ("embeddings", "health")
# What the training process says about a reset or a load itself; while one is pending, everything else
# in the queue is about the model that was there before.
FRESH_MESSAGES = (P.Loading, P.Ready, P.Error, P.Fatal, P.RunFolder)


class MLPApp(TrainingEvents, CompareRuns, Lifecycle, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mlp-tui"
    COMMANDS = App.COMMANDS | {MLPCommands}
    BINDINGS = bindings()  # tui/keys.py: the one key table (the palette and the help are made from it too)

    def __init__(self, values: dict[str, Any], backend_factory: Any = None, runs_dir: Any = None,
                 storage: str | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir  # None: $MLP_TUI_RUNS_DIR or the user data folder
        self.storage = storage  # the sweeps' storage URL (None: the default one in the runs folder)
        self.run_path: str | None = None  # where the current run is being saved (None: it is not)
        self.overlays: dict[str, str] = {}  # compared runs: path -> label
        # every setting's value (a partial dict gets the registry's defaults; old spellings are accepted)
        self.values = {**settings.DEFAULTS, **{settings.canonical(k): v for k, v in values.items()}}
        self.backend_factory = backend_factory
        self.cores = core_budget()  # the training process's cores: all in a terminal, one served (tui/hosting.py)
        self.proc: Any = None
        self.snapshot: dict | None = None
        self.status = Status.LOADING
        self.info: dict | None = None
        self.dev_points: list[tuple[int, float]] = []
        self.train_points: list[tuple[int, float]] = []  # the evaluated train losses (an ensemble's plot shows them)
        self.last_error = ""
        self.frames = 0
        self._plot_width = 0
        self._quitting = False
        self._awaiting_ready = False

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every notification as plain text, control characters escaped: messages quote file names and run
        folders, and "[red]" in a folder name is a name, not markup (nor an escape sequence for the terminal)."""
        from core.runs.files import safe_text

        super().notify(safe_text(message), title=safe_text(title), severity=severity, timeout=timeout, markup=False)

    @property
    def main_screen(self) -> Any:
        """The screen with the panes (app.query_one would search a view or dialog on top of it)."""
        return self.screen_stack[0]

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ControlsPane(self.values, id="controls")
            with Vertical(id="right"):
                yield LossPlot(id="plot")
                with Horizontal(id="bottom"):
                    yield SplitLosses(id="splits")
                    yield SamplesPane(id="samples")
        yield StatusLine("[magenta b]loading[/] torch and the data…", id="status")
        yield Static("", id="too-small")
        yield Footer()

    def on_resize(self, event: Any) -> None:
        """Below MIN_SIZE the panes would be cut to pieces: hide them and say so instead. Not while leaving: a
        resize (SIGWINCH) while the app quits finds its screens going or gone."""
        if self.leaving or not self.screen_stack:
            return
        w, h = event.size.width, event.size.height
        small = w < MIN_SIZE[0] or h < MIN_SIZE[1]
        screen = self.main_screen
        screen.set_class(small, "-too-small")
        # the counts column wants room, and a word model's KN and mix columns more
        screen.query_one(SplitLosses).styles.width = 44 if w >= 150 else 36 if w >= 110 else 28
        if small:
            screen.query_one("#too-small", Static).update(
                f"terminal too small ({w}x{h})\nmlp-tui needs at least {MIN_SIZE[0]}x{MIN_SIZE[1]}\n"
                f"training goes on; q quits"
            )

    def on_mount(self) -> None:
        self._poll_timers = [self.set_interval(POLL_INTERVAL, self.poll),
                             self.set_interval(PLOT_INTERVAL, self.plot_tick)]
        self._catch_signals()
        self.app_resume_signal.subscribe(self, self.redraw_all)
        self.call_after_refresh(self.start_training)  # the first frame first, torch later

    def redraw_all(self, _: Any = None) -> None:
        """Every cell drawn again: after a suspend (SIGTSTP, then SIGCONT from the shell) the terminal is blank,
        and only the panes that changed were redrawn, so the controls stayed empty until something forced it."""
        for screen in self.screen_stack:
            screen.refresh(repaint=True, layout=True)

    # ---- the training process ----
    def start_training(self) -> None:
        """Start the training process, once: r typed before the first frame's call got here already started it
        (two would train, and the first be left running), and none starts on an app that is leaving."""
        from core.link.transport import TrainerProcess

        if self.proc is not None or self.leaving:
            return

        # Textual replaces sys.stderr/stdout; multiprocessing needs the real ones (ARCHITECTURE.md, "Measured").
        with contextlib.redirect_stderr(sys.__stderr__), contextlib.redirect_stdout(sys.__stdout__):
            self.proc = (self.backend_factory or TrainerProcess)()
            self.proc.start()
        self.send_view()
        self.send(P.Cores(self.cores))
        self.send(P.Temperature(self.values["temperature"]))
        self.send_reset(self.values)

    def send(self, command: Any) -> None:
        """A command of core.link.protocol to the training process (dropped while quitting or without one)."""
        if self.proc is not None and not self._quitting:
            self.proc.send(command)

    def send_reset(self, v: dict[str, Any], paused: bool = False) -> None:
        v = {**settings.DEFAULTS, **v}
        model, train = settings.values_for("model", v), settings.values_for("train", v)
        self.status = Status.LOADING
        self.snapshot = None
        self._awaiting_ready = True
        self.dev_points, self.train_points = [], []
        self.main_screen.query_one(SplitLosses).clear()
        self.main_screen.query_one(LossPlot).set_curve([], [])
        self.main_screen.query_one(LossPlot).set_dev([])
        self.send(P.Reset(data=v["data"], model=model, train=train, paused=paused,
                          runs_dir=None if self.runs_dir is None else str(self.runs_dir), dedupe=bool(v.get("dedupe")),
                          text={k: v[k] for k in DATA_SETTINGS if k in v}))

    def send_view(self) -> None:
        plot = self.main_screen.query_one(LossPlot)
        self._plot_width = plot.size.width
        self.send(P.View(plot.dots_wide(), LAST_N if plot.last_only else None))

    def poll(self) -> None:
        if self.proc is None or self._quitting or not self.is_running:  # not running: the panes are going
            return
        for event in self.proc.poll():
            if self._awaiting_ready and not isinstance(event, FRESH_MESSAGES):
                continue  # the old model's, queued behind a reset or a load: they would undo "loading"
            self._on_event(event)
        if not self._quitting and not self.proc.process.is_alive():
            if self.status != Status.CRASHED:  # (after a "fatal" message the user has been told already)
                self.notify(f"the training process stopped (exit code {self.proc.process.exitcode}); press r to "
                            f"restart", severity="error", timeout=10)
            self.status = Status.CRASHED
            self.proc.close(timeout=0.1)  # its queues and their threads
            self.proc = None
            self.run_path = None
        if self.main_screen.query_one(LossPlot).size.width != self._plot_width:
            self.send_view()
        self.main_screen.query_one(StatusLine).show(self.snapshot, self.status,
                                        self.snapshot["elapsed"] if self.snapshot else 0.0)

    def plot_tick(self) -> None:
        if not self._quitting and self.is_running:
            self.main_screen.query_one(LossPlot).tick()

    # ---- what the panes say ----
    def on_live_change(self, event: LiveChange) -> None:
        self.values[event.key] = event.value
        if event.key == "temperature":
            self.send(P.Temperature(event.value))
            self.notify(f"temperature {event.value:g}: applies from the next batch of samples", timeout=3)
            return
        self.send(P.Apply({event.key: event.value}))
        if self.info:
            self.info["train"][event.key] = event.value
        shown = "off" if event.value is None else format_value(event.value)
        self.notify(f"{event.key.replace('_', ' ')} = {shown}: applied to the running model", timeout=3)

    def on_pending_changed(self, event: PendingChanged) -> None:
        pass

    # ---- actions ----
    def action_toggle_pause(self) -> None:
        if self.status == Status.RUNNING:
            self.send(P.Pause())
        elif self.status in (Status.PAUSED, Status.DIVERGED):
            self.send(P.Resume())
        elif self.status == Status.DONE:
            self.notify("training is done; raise steps (or minutes) to train further and press space, or press r "
                        "for a fresh model")

    def action_reset(self) -> None:
        controls = self.main_screen.query_one(ControlsPane)
        good, bad = controls.values()
        if bad:
            names = ", ".join(f"{k.replace('_', ' ')} ({r})" for k, r in bad.items())
            self.notify(f"fix these first: {names}", title="cannot reset", severity="warning")
            return
        if controls.size_problem:
            self.notify(controls.size_problem, title="cannot reset", severity="warning")
            return
        trained = self.snapshot["step"] if self.snapshot else 0

        def go(yes: bool | None) -> None:
            if not yes or self.leaving:  # (no training process may start on an app that is leaving)
                return
            if self.proc is None:
                self.start_training_with(good)
                return
            self.values = dict(good)
            self.send_reset(good)
            controls.set_applied(good)

        if trained > 0:
            self.push_screen(ConfirmScreen(f"Throw away the model trained for {trained:,} steps and start a "
                                           f"fresh one?"), go)
        else:
            go(True)

    def start_training_with(self, values: dict[str, Any]) -> None:
        self.values = dict(values)
        self.main_screen.query_one(ControlsPane).set_applied(values)
        self.start_training()

    def action_sample_now(self) -> None:
        self.send(P.SampleNow())

    def action_focus_prompt(self) -> None:
        """Into the samples pane's prompt field (running text only: names are sampled from nothing)."""
        pane = self.main_screen.query_one(SamplesPane)
        if self.screen is not self.main_screen:
            return
        if not pane.text_mode:
            self.notify("the prompt is for running text (--format text); names are sampled from nothing", timeout=4)
            return
        pane.query_one("#prompt", Input).focus()

    def action_evaluate_now(self) -> None:
        self.send(P.EvaluateNow())

    def action_toggle_smoothing(self) -> None:
        plot = self.main_screen.query_one(LossPlot)
        plot.smooth, plot.dirty = not plot.smooth, True

    def action_toggle_window(self) -> None:
        plot = self.main_screen.query_one(LossPlot)
        plot.last_only, plot.dirty = not plot.last_only, True
        self.send_view()

    def action_toggle_milestones(self) -> None:
        plot = self.main_screen.query_one(LossPlot)
        if not plot.milestones:
            self.notify("the milestones are the course's dev losses on the built-in names; this data has none",
                        timeout=4)
            return
        plot.toggle_milestones()

    def action_leave_field(self) -> None:
        """Out of a field (a live value applies as it is left), so that the keys work again."""
        from tui.panes.toggle import Toggle

        if isinstance(self.focused, (Input, Select, Toggle)):
            self.main_screen.query_one(ControlsPane).focus()

    async def action_view(self, view_id: str) -> None:
        """Open an inspection view (one at a time); the training process feeds it while it is open. Not while
        the app is quitting: a view mounted then finds its widgets gone (q then t, typed fast, crashed)."""
        if self.leaving or view_id not in VIEWS:
            return
        if isinstance(self.screen, ViewScreen):
            if self.screen.view_id == view_id:
                return
            await self.pop_screen()
        if view_id == "runs":
            screen: ViewScreen = RunsView(self.runs_root(), self.run_path)
        elif view_id == "exercises":
            screen = ExercisesView(self.runs_root())
        elif view_id == "sweeps":
            screen = SweepsView(self.storage or storage_url(self.runs_root()))
        else:
            screen = VIEWS[view_id]()
        await self.push_screen(screen, lambda _: self.call_after_refresh(self._watch_views))  # once it is gone
        self._watch_views()
        if view_id == "lr_find":
            self.send(P.FindLR())
        elif view_id == "dataset":
            self.send(P.DatasetInfo())

    def runs_root(self) -> Path:
        from core.runs.files import user_path
        from core.runs.folder import default_runs_dir

        return user_path(self.runs_dir) if self.runs_dir is not None else default_runs_dir()

    def action_save(self) -> None:
        self.send(P.Save())

    def load_run(self, path: str) -> None:
        """Continue a saved run (the current one is already on disk: runs save as they go)."""
        if self.leaving:
            return
        if self.proc is None:
            self.notify("the training process is not running; press r first", severity="error")
            return
        self.status = Status.LOADING
        self.snapshot = None
        self._awaiting_ready = True
        self.main_screen.query_one(SplitLosses).clear()
        self.main_screen.query_one(SamplesPane).clear()
        self.main_screen.query_one(LossPlot).set_curve([], [])
        self.send(P.Load(path))

    def _watch_views(self) -> None:
        open_views = [s.view_id for s in self.screen_stack if isinstance(s, ViewScreen) and s.view_id in LIVE_VIEWS]
        self.send(P.Watch(tuple(open_views)))

    def apply_settings(self, values: dict[str, Any], source: str) -> None:
        """Put a whole set of settings into the controls (a sweep's best trial); `r` trains them."""
        controls = self.main_screen.query_one(ControlsPane)
        controls.set_form({k: v for k, v in values.items() if k != "data" or v})
        self.notify(f"the settings of {source} are in the controls; press r to train them", title="applied",
                    timeout=6)

    def apply_lr(self, lr: float) -> None:
        """Put lr into the controls and apply it to the running model, as typing it would."""
        controls = self.main_screen.query_one(ControlsPane)
        controls.query_one("#f-lr", Input).value = format_value(lr)
        controls.apply_live("lr")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

def run_app(values: dict[str, Any], runs_dir: Any = None, storage: str | None = None) -> int:
    """The app on these settings (the command line resolved them); 2 if the dataset cannot be used."""
    from core.runs.files import safe_text

    _, reason = settings.BY_NAME["data"].parse(str(values["data"]))
    if reason:
        print(f"mlp-tui: error: --data {safe_text(values['data'])}: {reason}", file=sys.stderr)
        return 2
    app = MLPApp(values, runs_dir=runs_dir, storage=storage)
    try:
        app.run()
    finally:
        app.shutdown()
    return 0

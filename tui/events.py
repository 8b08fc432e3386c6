"""The app's side of the protocol: each event of core.link.protocol from the training process, by type.

A mixin of MLPApp (tui/app.py), kept apart so that the shell reads as layout, keys and commands.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from textual.widgets import Input

from core import settings
from core.link import protocol as P
from tui.panes.controls import ControlsPane
from tui.panes.plot import LossPlot
from tui.panes.samples import SamplesPane
from tui.panes.splits import SplitLosses
from tui.views import ViewScreen
from tui.views.scoring import ScoringView


class WorkerEvents:
    """on_worker_* handlers, reached through a Dispatcher that raises on an unknown event in tests."""

    @property
    def _on_event(self) -> P.Dispatcher:
        if not hasattr(self, "_dispatcher"):
            def fields_of(fn: Any) -> Any:
                return lambda e: fn(**{f.name: getattr(e, f.name) for f in fields(e)})

            self._dispatcher = P.Dispatcher({
                P.Loading: fields_of(self.on_worker_loading), P.Ready: fields_of(self.on_worker_ready),
                P.RunFolder: fields_of(self.on_worker_run), P.Saved: fields_of(self.on_worker_saved),
                P.Error: fields_of(self.on_worker_error), P.Fatal: fields_of(self.on_worker_fatal),
                P.Frame: lambda e: self.on_worker_frame(asdict(e.snapshot), e.plot_steps, e.plot_vals),
                P.Evaluated: fields_of(self.on_worker_eval), P.Samples: fields_of(self.on_worker_samples),
                P.Diverged: fields_of(self.on_worker_diverged), P.Done: fields_of(self.on_worker_done),
                P.Counts: lambda e: self.main_screen.query_one(SplitLosses).set_counts(e),
                **{t: (lambda e, k=k: self._to_view(k, P.view_payload(e))) for t, k in P.VIEW_OF.items()},
            })
        return self._dispatcher

    def on_worker_done(self, step: int, message: str, kept: str) -> None:
        if message or kept == "best":
            kept_note = "; the weights of the best dev loss were kept" if kept == "best" else ""
            self.notify(f"{message or 'done'}{kept_note}", title=f"done at step {step:,}", timeout=8)

    def on_worker_loading(self, what: str) -> None:
        self.state = "loading"

    def on_worker_ready(self, **info: Any) -> None:
        self._awaiting_ready = False
        self.info = info
        for screen in self.screen_stack:  # a view opened before there was a model asks again
            if isinstance(screen, ViewScreen) and screen.kind in ("lr_find", "dataset"):
                self.send(P.FindLR() if screen.kind == "lr_find" else P.DatasetInfo())
            elif isinstance(screen, ScoringView) and screen.query_one(Input).value.strip():
                self.send(P.Score(screen.query_one(Input).value.strip()))
        controls = self.main_screen.query_one(ControlsPane)
        controls.set_vocab(len(info["vocab"]))
        self.main_screen.query_one(SplitLosses).set_vocab(len(info["vocab"]))
        run = info.get("run")
        if run:  # a loaded run: its settings become the form's, its evaluations the dev points
            m, t = info["model"], info["train"]
            values = {**self.values, "data": info["dataset"], "dedupe": info.get("dedupe", False),
                      **settings.values_for("model", m), **settings.values_for("train", t)}
            self.values = values
            controls.set_form(values)
            controls.set_applied(values)
            self.dev_points = [(s, d) for s, d in run.get("evals", []) if d is not None]
            self.main_screen.query_one(LossPlot).set_dev(self.dev_points)
            if run.get("finished"):
                self.notify(f"{Path(run['path']).name} is done at step {info['step']:,}; raise steps (or minutes) "
                            f"to train it further, then press space", title="run loaded", timeout=8)
            else:
                self.notify(f"continuing {Path(run['path']).name} from step {info['step']:,}; space resumes "
                            f"training", title="run loaded", timeout=6)
        self.sub_title = (
            f"{info['dataset']}: {info['words']:,} words, {len(info['vocab'])} characters, "
            f"{info['params']:,} parameters"
        )

    def on_worker_run(self, path: str | None, saved_step: int) -> None:
        self.run_path = path  # None: this run is not being saved (quitting will ask)

    def on_worker_saved(self, path: str, step: int) -> None:
        self.notify(f"step {step:,} saved to {path}", title="saved", timeout=4)

    def on_worker_error(self, message: str) -> None:
        self._awaiting_ready = False  # a failed reset: the old model's frames are the truth again
        self.last_error = message
        if self.state == "loading":
            self.state = "error"
        self.notify(message, title="cannot apply", severity="error", timeout=8)

    def on_worker_fatal(self, message: str) -> None:
        self.last_error = message
        self.state = "crashed"
        self.notify(message + "; press r to restart", severity="error", timeout=15)

    def on_worker_frame(self, snapshot: dict, plot_steps: list, plot_vals: list) -> None:
        self.snapshot = snapshot
        self.state = snapshot["state"]
        self.frames += 1
        plot = self.main_screen.query_one(LossPlot)
        plot.set_curve(plot_steps, plot_vals)
        if self.info:
            plot.set_marks(self.info["train"]["decay_at"], snapshot["total_steps"])

    def on_worker_eval(self, step: int, losses: dict, train_kind: str, best_dev: float, best_dev_step: int) -> None:
        self.main_screen.query_one(SplitLosses).add(step, losses, train_kind, best_dev, best_dev_step)
        self.dev_points.append((step, losses["dev"]))
        self.main_screen.query_one(LossPlot).set_dev(self.dev_points)

    def on_worker_samples(self, step: int, names: list) -> None:
        self.main_screen.query_one(SamplesPane).add(step, names)

    def _to_view(self, kind: str, payload: dict) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, ViewScreen) and screen.kind == kind:
                screen.show(**payload)

    def on_worker_diverged(self, message: str, step: int) -> None:
        self.last_error = message
        self.notify(message, title="training diverged", severity="error", timeout=15)


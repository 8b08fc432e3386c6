"""The app's side of the protocol: each event of core.link.protocol from the training process, by type.

A mixin of MLPApp (tui/app.py), kept apart so that the shell reads as layout, keys and commands.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from textual.widgets import Input

from core import settings
from core.config import init_note
from core.link import protocol as P
from core.milestones import milestones_for
from core.status import Status
from tui.hosting import holds_every_core
from tui.panes.controls import ControlsPane
from tui.panes.plot import BUSY_REDRAW, LossPlot
from tui.panes.samples import SamplesPane
from tui.panes.splits import SplitLosses
from tui.views import ViewScreen
from tui.views.scoring import ScoringView


class TrainingEvents:
    """on_training_* handlers, reached through a Dispatcher that raises on an unknown event in tests."""

    @property
    def _on_event(self) -> P.Dispatcher:
        if not hasattr(self, "_dispatcher"):
            def fields_of(fn: Any) -> Any:
                return lambda e: fn(**{f.name: getattr(e, f.name) for f in fields(e)})

            self._dispatcher = P.Dispatcher({
                P.Loading: fields_of(self.on_training_loading), P.Ready: fields_of(self.on_training_ready),
                P.RunFolder: fields_of(self.on_training_run), P.Saved: fields_of(self.on_training_saved),
                P.Error: fields_of(self.on_training_error), P.Fatal: fields_of(self.on_training_fatal),
                P.Frame: lambda e: self.on_training_frame(asdict(e.snapshot), e.plot_steps, e.plot_vals),
                P.Evaluated: fields_of(self.on_training_eval), P.Samples: fields_of(self.on_training_samples),
                P.PromptSet: fields_of(self.on_training_prompt),
                P.Diverged: fields_of(self.on_training_diverged), P.Done: fields_of(self.on_training_done),
                P.Counts: lambda e: self.main_screen.query_one(SplitLosses).set_counts(e),
                P.KneserNey: lambda e: self.main_screen.query_one(SplitLosses).set_counts(e),
                P.Mixed: lambda e: self.main_screen.query_one(SplitLosses).set_mixture(e),
                **{t: (lambda e, v=v: self._to_view(v, P.view_payload(e))) for t, v in P.VIEW_OF.items()},
            })
        return self._dispatcher

    def on_training_done(self, step: int, message: str, kept: str) -> None:
        if message or kept == "best":
            kept_note = "; the weights of the best dev loss were kept" if kept == "best" else ""
            self.notify(f"{message or 'done'}{kept_note}", title=f"done at step {step:,}", timeout=8)

    def on_training_loading(self, what: str) -> None:
        self.status = Status.LOADING

    def on_training_ready(self, **info: Any) -> None:
        self._awaiting_ready = False
        self.info = info
        for screen in self.screen_stack:  # a view opened before there was a model asks again
            if isinstance(screen, ViewScreen) and screen.view_id in ("lr_find", "dataset"):
                self.send(P.FindLR() if screen.view_id == "lr_find" else P.DatasetInfo())
            elif isinstance(screen, ScoringView):
                screen.set_text_mode((info.get("text") or {}).get("format") == "text")
                if screen.query_one(Input).value.strip():
                    self.send(P.ScoreText(screen.query_one(Input).value.strip()))
        controls = self.main_screen.query_one(ControlsPane)
        size = info.get("vocab_size") or len(info["vocab"])
        controls.set_vocab(size)
        self.main_screen.query_one(SplitLosses).set_vocab(size, info["model"].get("members", 1), info)
        self.main_screen.query_one(LossPlot).set_milestones(milestones_for(info["dataset"]))
        self.main_screen.query_one(LossPlot).set_members(info["model"].get("members", 1))
        run = info.get("run")
        if run:  # a loaded run: its settings become the form's, its evaluations the dev points
            m, t = info["model"], info["train"]
            values = {**self.values, "data": info["dataset"], "dedupe": info.get("dedupe", False),
                      **(info.get("text") or {}),
                      **settings.values_for("model", m), **settings.values_for("train", t)}
            self.values = values
            controls.set_form(values)
            controls.set_applied(values)
            self.dev_points = [(s, d) for s, d in run.get("evals", []) if d is not None]
            self.train_points = [(s, t) for s, t in run.get("train_evals", []) if t is not None]
            self.main_screen.query_one(LossPlot).set_dev(self.dev_points, self.train_points)
            if run.get("finished"):
                self.notify(f"{Path(run['path']).name} is done at step {info['step']:,}; raise steps (or minutes) "
                            f"to train it further, then press space", title="run loaded", timeout=8)
            else:
                self.notify(f"continuing {Path(run['path']).name} from step {info['step']:,}; space resumes "
                            f"training", title="run loaded", timeout=6)
        self.main_screen.query_one(SamplesPane).set_text_mode((info.get("text") or {}).get("format") == "text")
        if self.overlays:  # another model: the compared runs' scale may change (bits per character across kinds)
            self._draw_overlays()
        words = (info.get("text") or {}).get("tokens") == "words"
        lines = "lines" if (info.get("text") or {}).get("format") == "text" else "words"
        kind = "BPE tokens" if (info.get("text") or {}).get("tokens") == "bpe" else "words" if words else "characters"
        self.sub_title = f"{info['dataset']}: {info['words']:,} {lines}, {size:,} {kind}, {info['params']:,} parameters"
        note = init_note(str(info["model"].get("init")), size, "words" if words else "chars")
        if note and not run:  # a new model (a loaded one is past its start)
            self.notify(note, title="init", severity="warning", timeout=10)

    def on_training_run(self, path: str | None, saved_step: int) -> None:
        self.run_path = path  # None: this run is not being saved (quitting will ask)

    def on_training_saved(self, path: str, step: int) -> None:
        self.notify(f"step {step:,} saved to {path}", title="saved", timeout=4)

    def on_training_error(self, message: str) -> None:
        self._awaiting_ready = False  # a failed reset: the old model's frames are the truth again
        self.last_error = message
        if self.status == Status.LOADING:
            self.status = Status.ERROR
        self.notify(message, title="cannot apply", severity="error", timeout=8)

    def on_training_fatal(self, message: str) -> None:
        self.last_error = message
        self.status = Status.CRASHED
        self.notify(message + "; press r to restart", severity="error", timeout=15)

    def on_training_frame(self, snapshot: dict, plot_steps: list, plot_vals: list) -> None:
        self.snapshot = snapshot
        self.status = snapshot["status"]
        self.frames += 1
        plot = self.main_screen.query_one(LossPlot)
        plot.set_curve(plot_steps, plot_vals)
        busy = self.status == Status.RUNNING and holds_every_core(snapshot.get("cores", 1))
        plot.every = BUSY_REDRAW if busy else 0.0
        if self.info:
            plot.set_marks(self.info["train"]["decay_at"], snapshot["total_steps"])

    def on_training_eval(self, step: int, losses: dict, train_coverage: str, best_dev: float,
                         best_dev_step: int, held_coverage: str = "full") -> None:
        self.main_screen.query_one(SplitLosses).add(step, losses, train_coverage, best_dev, best_dev_step,
                                                    held_coverage)
        self.dev_points.append((step, losses["dev"]))
        self.train_points.append((step, losses["train"]))
        self.main_screen.query_one(LossPlot).set_dev(self.dev_points, self.train_points)

    def on_training_samples(self, step: int, names: list, prompt: str = "", cut: tuple = ()) -> None:
        self.main_screen.query_one(SamplesPane).add(step, names, prompt, cut)

    def on_training_prompt(self, text: str, shown: str, note: str | None, error: str | None) -> None:
        """What the training process made of the prompt: its tokens, the words it read as <unk>, or a refusal."""
        if error:
            self.main_screen.query_one("#prompt", Input).value = ""
            self.notify(f"{error}; the samples start a fresh line", title="prompt", severity="warning", timeout=8)
        elif not shown:
            self.notify("prompt cleared: the samples start a fresh line", title="prompt", timeout=3)
        else:
            self.notify(f"the samples continue {shown!r}" + (f" ({note})" if note else ""), title="prompt",
                        timeout=6)

    def _to_view(self, view_id: str, payload: dict) -> None:
        for screen in self.screen_stack:  # not a view still being pushed: the answer is to the one closed before it
            if isinstance(screen, ViewScreen) and screen.view_id == view_id and screen.is_mounted:
                screen.show(**payload)

    def on_training_diverged(self, message: str, step: int) -> None:
        self.last_error = message
        self.notify(message, title="training diverged", severity="error", timeout=15)


"""The training process's pump: commands from the UI in, a Session trains, events and frames out.

It owns the current Session (core.engine.session) and what only the app has: the views' data (embedding
map, health, lr finder, scores: computed by core.link.viewdata, sent when due), plot frames at the plot's
width, and resets and loads of runs. The transport that carries its messages (a spawned process or a
thread) is core.link.transport.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

from core.kernels.threads import training_threads
from core.link import protocol as P
from core.link import viewdata
from core.link.baselines import Baselines
from core.measures import chars_per_token
from core.status import Status

FRAME_INTERVAL = 0.1  # seconds between frames (snapshot and plot series) sent to the UI
VIEW_INTERVALS = {"embeddings": 0.5, "health": 1.0}  # seconds between updates of an open view
OUT_QUEUE_SIZE = 64  # events not yet read by the UI, at most (core.link.transport makes its queues this size)
DROPPABLE = (P.Frame, P.Embeddings, P.HealthReport)  # superseded by the next one: dropped when the UI lags
NEEDS_MODEL = (P.Pause, P.Resume, P.Apply, P.SampleNow, P.EvaluateNow, P.Save, P.FindLR, P.ScoreText, P.DatasetInfo)


def _or_empty(read: Any, path: str) -> list[dict]:
    from core.runs.folder import RunError

    try:
        return read(Path(path))
    except RunError:
        return []


def _mtime(spec: str) -> float:
    from core.data import resolve_dataset

    try:
        return resolve_dataset(spec).stat().st_mtime
    except (OSError, ValueError):
        return 0.0


class Pump:
    """The protocol pump of the training process: commands in, a Session trains, events and frames out."""

    def __init__(self, out_q: Any):
        self.out = out_q
        self.session: Any = None  # core.engine.session.Session of the current model (None: no model yet)
        self.data: Any = None  # core.data.Dataset of the current model, kept for a reset on the same data
        self.data_key: tuple | None = None
        self.temperature = 1.0
        self.counts_due = False  # the counting baseline is still to be sent (after the first chunk)
        self.cores = 1  # the cores this process may use (P.Cores: the app's say); an ensemble's members use them
        self.n_samples = 8
        self.prompt = ""  # the samples pane's prompt, made again for each new model's vocabulary
        self.plot_width = 200
        self.plot_last: int | None = None  # only the last N steps, or all
        self.last_frame = 0.0
        self.watch: set[str] = set()  # open views that update while training (embeddings, health)
        self.last_view: dict[str, float] = {}
        self.runs_dir: str | None = None
        self.baselines = Baselines(self.send, _mtime)  # the split pane's n-gram (and a word model's mixture)
        self._dispatcher = P.Dispatcher(self._handlers())
        self.give_up: Any = lambda: False  # True once the process is ending (a stop signal, the UI gone)

    @property
    def trainer(self) -> Any:
        return None if self.session is None else self.session.trainer

    @property
    def writer(self) -> Any:
        """core.runs.writer.RunWriter of the current run (None: not being saved)."""
        return None if self.session is None else self.session.writer

    @property
    def active(self) -> bool:
        return self.session is not None and self.session.running

    def send(self, event: Any) -> None:
        """An event of core.link.protocol to the UI, on a bounded queue: a UI that stops reading (blocked on a
        browser that has gone) must not make this process grow. Frames and views are dropped while the queue
        is full (the next one supersedes them); other events wait for room until `give_up()`."""
        if isinstance(event, DROPPABLE):
            try:
                self.out.put_nowait(event)
            except queue.Full:
                pass
            return
        while True:
            try:
                self.out.put(event, timeout=0.2)
                return
            except queue.Full:
                if self.give_up():
                    return

    # ---- commands ----
    def reset(self, data: str, model: dict, train: dict, paused: bool = False, runs_dir: str | None = None,
              dedupe: bool = False, text: dict | None = None) -> None:
        from core.data import Dataset
        from core.engine.train import TrainConfig, Trainer
        from core.errors import MLPTuiError
        from core.model import MLPConfig
        from core.tokens import TextOptions

        if runs_dir is not None:
            self.runs_dir = runs_dir
        self.send(P.Loading(f"loading {data}"))
        try:
            tcfg = TrainConfig(**train)
            tcfg.validate()
            options = TextOptions.from_values(text or {})
            key = (data, model["block_size"], _mtime(data), dedupe, options)  # an edited word file is read again
            if self.data_key != key:
                self.data = Dataset.load(data, model["block_size"], dedupe=dedupe, options=options)
                self.data_key = key
            trainer = Trainer(self.data, MLPConfig(**model), tcfg)
        except MLPTuiError as e:
            self._reset_failed(str(e))
            return
        except MemoryError:
            self._reset_failed("not enough memory for this model; make it smaller")
            return
        self.close_run()
        self.start(trainer, self._writer_for(trainer, None), later=not paused)
        self.session.first_evaluation()
        self.session.sample()  # the untrained model's names, at step 0
        if self.watch:
            self.views(force=True)
        if not paused:
            self.session.resume()
        self.frame(force=True)

    def _reset_failed(self, message: str) -> None:
        """The new model could not be made: say why, and the one there was carries on as it was."""
        self.send(P.Error(message))
        if self.trainer is not None:
            self.frame(force=True)

    def start(self, trainer: Any, writer: Any, run: dict | None = None, later: bool = False) -> None:
        """Make `trainer` the current one, in a Session of its own, and tell the UI what it is; `later`: the
        counting baseline after the first chunk (it can take ~0.2 s, and training comes first)."""
        from core.engine.session import Session

        trainer.threads = training_threads(trainer.model_config, trainer.config.batch_size, self.cores)
        self.session = Session(trainer, writer, emit=self.send, n_samples=self.n_samples,
                               temperature=self.temperature)
        if self.prompt:  # said again only if this model cannot read it
            made = viewdata.prompt_set(self.session, self.prompt)
            if made.error:
                self.prompt = ""
                self.send(made)
        d = trainer.data
        vocab = "".join(d.vocab.itos) if d.vocab.tokens == "chars" else " ".join(d.vocab.itos)
        self.send(P.Ready(dataset=d.source, words=len(d.words), vocab=vocab, vocab_size=len(d.vocab),
                          text=d.options.to_dict(), chars_per_token=chars_per_token(d),
                          examples={s: len(d.Y[s]) for s in d.Y}, params=trainer.model.num_params(),
                          model=trainer.model_config.to_dict(), train=trainer.config.to_dict(), step=trainer.step,
                          dedupe=d.dedupe, run=run,
                          unk=dict(d.unk) if d.options.tokens == "words" else None))
        w = self.writer
        if w is None:
            self.send(P.RunFolder(None))
        elif w.opened:
            self.send(P.RunFolder(str(w.path), w.saved_step))
        self.counts_due = later
        if not later:
            self.counts(d)

    def counts(self, data: Any) -> None:
        """The n-gram baseline of this data at the model's context (core.link.baselines), once per dataset."""
        self.baselines.show(data, self.session)

    # ---- the run directory ----
    def _writer_for(self, trainer: Any, path: str | None) -> Any:
        """A writer for this run: `path` resumed (locked at once), or a new folder in the runs folder, made when
        the first step is trained (a model that never trains leaves no folder). None if it cannot be."""
        from core.data import resolve_dataset
        from core.runs.folder import RunError, default_runs_dir
        from core.runs.writer import RunWriter

        try:
            return RunWriter(path, trainer, origin="app", resume=path is not None,
                             root=self.runs_dir or default_runs_dir(), stem=resolve_dataset(trainer.data.source).stem,
                             dedupe=trainer.data.dedupe)
        except RunError as e:
            self.send(P.Error(f"{e}; this run is not being saved"))
            return None

    def close_run(self, status: str = Status.STOPPED) -> None:
        """Finish the run directory: a last checkpoint, marked done or diverged if it was, else `status`."""
        if self.session is not None:
            self.session.close(status)

    def save(self) -> None:
        from core.runs.folder import RunError

        if self.writer is None:
            self.send(P.Error("this run is not being saved (the runs folder could not be written)"))
            return
        try:
            path = self.session.checkpoint()
        except RunError as e:
            self.send(P.Error(str(e)))
            return
        self.send(P.Saved(str(path), self.trainer.step))

    def load(self, path: str) -> None:
        """Continue a saved run: its weights, optimiser state, history and run directory (core.runs.resume, the
        path `mlp-tui train --resume` takes too)."""
        from core.errors import MLPTuiError
        from core.runs.folder import read_evals, read_samples
        from core.runs.resume import open_run

        w = self.writer
        if w is not None and w.path is not None and Path(path).resolve() == w.path.resolve():
            self.send(P.Error("this is the run that is training now"))
            self.frame(force=True)
            return
        self.send(P.Loading(f"loading {path}"))
        try:
            opened = open_run(path)
        except (MLPTuiError, MemoryError) as e:
            self.send(P.Error(f"cannot load the run: {e or 'not enough memory'}"))
            if self.trainer is not None:
                self.frame(force=True)
            return
        trainer, info, d = opened.trainer, opened.info, opened.trainer.data
        self.close_run()
        self.data, self.data_key = d, (d.source, d.block_size, _mtime(d.source), d.dedupe, d.options)
        writer = self._writer_for(trainer, str(path))  # first: it cuts the files back to the checkpoint's step
        rows = [e for e in _or_empty(read_evals, path) if e["step"] <= trainer.step]
        evals, train_evals = ([(e["step"], e.get(s)) for e in rows] for s in ("dev", "train"))  # an ensemble plots both
        samples = [e for e in _or_empty(read_samples, path) if e["step"] <= trainer.step]
        self.start(trainer, writer,
                   run={"path": str(path), "created": info.get("created"), "evals": evals, "train_evals": train_evals,
                        "finished": trainer.finished})
        if samples:
            words = self.session.train_words()
            names = [str(n) for n in samples[-1]["names"]]
            self.send(P.Samples(samples[-1]["step"], [(n, n in words) for n in names]))
        self.session.first_evaluation()  # as a new model's: large or costly splits on samples (dev*), the full
        if self.watch:  # splits at the next scheduled evaluation, a pause, `e` or the end (on kjv words: minutes)
            self.views(force=True)
        self.frame(force=True)  # a loaded run waits for space (or says it is done)

    def handle_safely(self, cmd: tuple) -> bool:
        """handle(cmd), with an unexpected failure of a command reported to the UI instead of ending the process
        (a failure while training itself still ends it, in training_main, after saving)."""
        try:
            return self.handle(cmd)
        except MemoryError:
            self.send(P.Error(f"not enough memory for {type(cmd).__name__}"))
        except Exception as e:
            self.send(P.Error(f"{type(cmd).__name__} failed: {type(e).__name__}: {e}"))
        if self.session is not None:  # whatever it was doing is in doubt: wait for the user
            self.session.status = Status.PAUSED if self.session.running else self.session.status
            self.frame(force=True)
        return True

    def handle(self, cmd: Any) -> bool:
        """Apply one command of core.link.protocol; False means quit."""
        if isinstance(cmd, P.Quit):
            self.close_run(Status.STOPPED)
            return False
        if self.session is None and type(cmd) in NEEDS_MODEL:
            self.send(P.Error("there is no model yet; fix the settings and press r"))
            return True
        self._dispatcher(cmd)
        return True

    # each command's handler; the ones in NEEDS_MODEL run only with a model
    def _reset(self, c: P.Reset) -> None:
        self.reset(c.data, c.model, c.train, c.paused, c.runs_dir, c.dedupe, c.text)

    def _view(self, c: P.View) -> None:
        self.plot_width, self.plot_last = max(10, int(c.width)), c.last
        self.frame(force=True)

    def _temperature(self, c: P.Temperature) -> None:
        self.temperature = float(c.value)
        if self.session is not None:
            self.session.temperature = self.temperature

    def _cores(self, c: P.Cores) -> None:
        self.cores = max(1, int(c.count))
        if self.trainer is not None:
            self.trainer.threads = training_threads(self.trainer.model_config, self.trainer.config.batch_size,
                                                    self.cores)

    def _watch(self, c: P.Watch) -> None:
        self.watch, self.last_view = set(c.views), {}
        if self.session is not None:
            self.views(force=True)

    def _pause(self, c: P.Pause) -> None:
        se = self.session
        if se.running:
            se.status = Status.PAUSED
            self.frame(force=True)  # the UI hears "paused" before the evaluation and the save's fsync
            se.status = Status.RUNNING
            se.pause()
            self.frame(force=True)

    def _resume(self, c: P.Resume) -> None:
        self.session.resume()
        self.frame(force=True)

    def _apply(self, c: P.Apply) -> None:
        from core.errors import ConfigError

        try:
            self.session.apply(dict(c.changes))
        except ConfigError as e:
            self.send(P.Error(str(e)))
        self.frame(force=True)

    def _evaluate_now(self, c: P.EvaluateNow) -> None:
        self.session.evaluate(full=True)
        self.frame(force=True)

    def _prompt(self, c: P.Prompt) -> None:
        self.prompt = str(c.text)[: P.MAX_PROMPT_CHARS]
        if self.session is not None:
            self.send(viewdata.prompt_set(self.session, self.prompt))
            self.session.sample()

    def _dataset(self, c: P.DatasetInfo) -> None:
        self.send(viewdata.dataset_stats(self.data))

    def _handlers(self) -> dict[type, Any]:
        return {
            P.Reset: self._reset, P.Load: lambda c: self.load(str(c.path)), P.View: self._view,
            P.Temperature: self._temperature, P.Cores: self._cores, P.Watch: self._watch, P.Pause: self._pause,
            P.Resume: self._resume, P.Apply: self._apply, P.SampleNow: lambda c: self.session.sample(),
            P.EvaluateNow: self._evaluate_now, P.Save: lambda c: self.save(), P.DatasetInfo: self._dataset,
            P.FindLR: lambda c: self.lr_find(fresh=bool(c.fresh)), P.ScoreText: lambda c: self.score(str(c.text)),
            P.FindNeighbours: lambda c: self.send(viewdata.neighbours(self.trainer, c.tokens, c.k)),
            P.Prompt: self._prompt, P.SplitTokens: lambda c: self.send(viewdata.tokens_split(self.data, c)),
        }

    # ---- views ----
    def views(self, force: bool = False) -> None:
        """Send the open views' data, each at its own interval (the trainer loses well under 1%)."""
        now = time.monotonic()
        for view in self.watch:
            if not force and now - self.last_view.get(view, 0.0) < VIEW_INTERVALS.get(view, 1.0):
                continue
            self.last_view[view] = now
            event = viewdata.view_event(view, self.trainer)
            if event is not None:
                self.send(event)

    def lr_find(self, fresh: bool = True) -> None:
        self.send(viewdata.lr_found(self.trainer, fresh))

    def score(self, text: str) -> None:
        self.send(viewdata.scored(self.session, text, self.temperature))

    def frame(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.session is None or (not force and now - self.last_frame < FRAME_INTERVAL):
            return
        self.last_frame = now
        tr = self.trainer
        snap = self.session.snapshot()
        start = 0 if self.plot_last is None else max(0, tr.step - self.plot_last)
        steps, vals = tr.history.downsample(self.plot_width, start)
        self.send(P.Frame(snap, steps, vals))

    def tick(self) -> None:
        se = self.session
        if se.running:
            se.step()
            if self.counts_due:
                self.counts_due = False
                self.counts(self.trainer.data)
            if not se.running:
                self.frame(force=True)
                return
            if self.watch:
                self.views()
        self.frame()

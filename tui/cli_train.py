"""`mlp-tui train`: a Trainer, its run directory, a Rich progress bar, and the ways a run can end.

However it ends (done, Ctrl+C, SIGTERM, SIGHUP from a closed terminal or SSH drop, a full disk), the
trained weights end up on disk and run.json says what happened: a full disk stops the saving, not the
training, and the weights are then put where there is room, with a message that says where.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core.files import safe_text
from core.runs import METRICS, json_safe

EVAL_EVERY = 3.0  # seconds between dev evaluations during `train` (best-dev tracking, early stopping)
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


class _Stopper:
    """SIGTERM and SIGHUP stop the trainer like Ctrl+C: the loop ends at the next chunk and the run is saved."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.signal: str | None = None
        self.old: dict[int, Any] = {}

    def __enter__(self) -> _Stopper:
        for s in STOP_SIGNALS:
            self.old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal = signal.Signals(signum).name
        if signum == getattr(signal, "SIGHUP", None):  # the terminal is gone: writes to it would fail
            devnull = os.open(os.devnull, os.O_WRONLY)
            for fd in (1, 2):
                os.dup2(devnull, fd)
            os.close(devnull)
        self.trainer.stop()

    def __exit__(self, *exc: Any) -> None:
        for s, old in self.old.items():
            signal.signal(s, old)


class _Saving:
    """The run directory's writes, guarded: the first failure (a full disk) stops saving and says so once."""

    def __init__(self, writer: Any, err: Any) -> None:
        self.writer, self.err = writer, err
        self.error: str | None = None

    def __call__(self, write: Any) -> None:
        from core.runs import RunError

        if self.error is not None:
            return
        try:
            write(self.writer)
        except RunError as e:
            self.error = str(e)
            self.err.print(f"[yellow]warning:[/] {safe_text(e)}; training goes on, and the weights will be saved "
                           f"at the end where there is room", markup=True, highlight=False)


def rescue(trainer: Any, name: str, dedupe: bool) -> Path | None:
    """Save the weights outside the run folder (the temp folder, else the current one); None if nowhere."""
    from core.checkpoint import save_checkpoint

    for folder in (Path(tempfile.gettempdir()), Path.cwd()):
        path = folder / f"mlp-tui-{name}-step{trainer.step}.pt"
        try:
            save_checkpoint(trainer, path, dedupe=dedupe)
            return path
        except OSError:
            continue
    return None


def train(args: argparse.Namespace, mcfg: Any, tcfg: Any, data: str = "names", dedupe: bool = False) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    import core  # noqa: F401  (quiets torch's NumPy warning)
    from core.checkpoint import dataset_ref
    from core.data import Dataset, resolve_dataset
    from core.errors import MLPTuiError
    from core.runs import RunError, RunWriter, default_runs_dir
    from core.train import Trainer

    err = Console(stderr=True)
    tcfg.validate()
    source = data
    data = Dataset.load(source, mcfg.block_size, dedupe=dedupe)
    trainer = Trainer(data, mcfg, tcfg)
    trainer.threads = args.threads
    if args.out is not None:
        out: Path | None = args.out.expanduser()
        if (out / "run.json").exists() or (out / "model.pt").exists():
            raise MLPTuiError(f"--out {safe_text(out)}: already holds a run; give a new folder (nothing was "
                              f"overwritten)")
    else:
        out = None
    writer = RunWriter(out, trainer, origin="cli", root=args.runs_dir or default_runs_dir(),
                       stem=resolve_dataset(source).stem, dedupe=dedupe)
    out = writer.open()  # fail now, before training, if the folder cannot be made
    saving = _Saving(writer, err)
    length = f"{tcfg.minutes:g} minutes" if tcfg.minutes else f"{tcfg.steps:,} steps"
    err.print(
        f"[bold]{safe_text(data.source)}[/]: {len(data.words):,} words, {len(data.vocab)} characters; "
        f"{trainer.model.num_params():,} parameters; {tcfg.optimizer}, {length} -> {safe_text(out)}",
        highlight=False,
    )
    progress = Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[sps]:>7,.0f} steps/s"), TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("dev {task.fields[dev]:.4f}"), TextColumn("lr {task.fields[lr]:.3g}"), TimeRemainingColumn(),
        console=err, disable=args.quiet, transient=False,
    )
    task = progress.add_task("training", total=trainer.total_steps, sps=0.0, loss=math.nan, dev=math.nan,
                             lr=trainer.lr)
    last = [0.0]
    dev_curve: list[list[float]] = []  # [seconds, step, dev loss] at each evaluation

    def on_chunk(tr: Trainer, step: int, loss: float) -> None:
        chunk = tr.last_chunk
        saving(lambda w: w.log_losses(chunk))
        saving(lambda w: w.tick())
        now = time.monotonic()
        if now - last[0] > 0.1:  # redraw at most 10 times a second
            last[0] = now
            progress.update(task, completed=step, total=tr.total_steps, sps=tr.snapshot().steps_per_second,
                            loss=loss, lr=tr.lr)

    def on_eval(tr: Trainer, step: int, losses: dict) -> None:
        saving(lambda w: w.log_eval(step, losses, tr.elapsed))
        dev_curve.append([round(tr.wall, 2), step, losses["dev"]])
        progress.update(task, dev=losses["dev"])

    trainer.on("on_chunk_end", on_chunk)
    trainer.on("on_validation_end", on_eval)
    interrupted = False
    t0 = time.perf_counter()
    with _Stopper(trainer) as stopper:
        try:
            with progress:
                try:
                    trainer.run(eval_every=EVAL_EVERY, patience=tcfg.patience)
                except KeyboardInterrupt:
                    interrupted = True
                train_wall = time.perf_counter() - t0
                snap = trainer.snapshot()
                progress.update(task, completed=trainer.step, total=max(trainer.step, 1),
                                sps=snap.steps_per_second, loss=snap.last_loss, lr=trainer.lr)
        except OSError:  # the terminal went away under the progress bar (SIGHUP): the run still gets saved
            train_wall = time.perf_counter() - t0
            snap = trainer.snapshot()
        interrupted = interrupted or stopper.signal is not None
        return _finish(args, trainer, writer, saving, out, err, interrupted, stopper.signal, snap, t0, train_wall,
                       dev_curve, data, dataset_ref, RunError, dedupe)


def _finish(args: argparse.Namespace, trainer: Any, writer: Any, saving: _Saving, out: Path, err: Any,
            interrupted: bool, signame: str | None, snap: Any, t0: float, train_wall: float, dev_curve: list,
            data: Any, dataset_ref: Any, RunError: type, dedupe: bool) -> int:
    """Evaluate, keep the best weights if asked, save (or rescue) the run, write metrics.json, report."""
    tcfg = trainer.config
    seconds = time.perf_counter() - t0
    say = _Say(err)
    if snap.state == "diverged" or snap.message:
        say.line(snap.message)
    if interrupted:
        say.line(f"{'interrupted' if signame is None else signame} at step {trainer.step:,}; saving what was trained")
    final = trainer.evaluate()
    losses, kept = final, "last"
    if tcfg.keep_best and trainer.best_dev_step != trainer.step and trainer.restore_best():
        losses, kept = trainer.evaluate(), "best"
    state = "interrupted" if interrupted else snap.state
    if trainer.step == 0 and state != "diverged":
        writer.close(state)  # nothing trained: the empty run is not kept
        say.line("no step was trained; no run was kept")
        return 130 if interrupted else 1
    saved: Path | None = out / "model.pt"
    try:
        writer.close(state)
    except RunError as e:
        saving.error = saving.error or str(e)
    if saving.error is not None:
        saved = rescue(trainer, out.name, dedupe)
        writer.mark("unsaved", rescued_to=None if saved is None else str(saved))
    metrics = {
        "steps": trainer.step,
        "seconds": round(seconds, 3),
        "steps_per_second": round(trainer.step / train_wall, 1) if train_wall else 0.0,  # wall time
        "params": trainer.model.num_params(),
        "train_loss": losses["train"],  # of the saved weights (see "kept")
        "dev_loss": losses["dev"],
        "test_loss": losses["test"],
        "kept": kept,
        "final_dev_loss": final["dev"],
        "best_dev_loss": trainer.best_dev,
        "best_dev_step": trainer.best_dev_step,
        "state": state,
        "dataset": dataset_ref(data.source),
        "dedupe": dedupe,
        "preset": args.preset,
        "threads": args.threads,
        "config": {"model": trainer.model_config.to_dict(), "train": tcfg.to_dict()},
        "dev_curve": dev_curve,
    }
    wrote = [saved] if saved is not None else []
    try:
        (out / METRICS).write_text(json.dumps(json_safe(metrics), indent=2) + "\n")
        wrote.append(out / METRICS)
    except OSError as e:
        say.line(f"cannot write {safe_text(out / METRICS)} ({e.strerror or e})")
    if trainer.best_dev_step >= 0:
        best = f"  best dev {trainer.best_dev:.4f} @ step {trainer.best_dev_step:,}"
        best += " (kept)" if kept == "best" else ""
    else:
        best = "  (no dev split to evaluate)"
    say.line(f"train {losses['train']:.4f}  dev {losses['dev']:.4f}  test {losses['test']:.4f}{best}  "
             f"({metrics['steps_per_second']:,.0f} steps/s)  wrote {' and '.join(safe_text(p) for p in wrote)}")
    if saving.error is not None:
        where = (f"the weights were saved to {safe_text(saved)} instead (mlp-tui sample --checkpoint takes it)"
                 if saved is not None else "the weights could not be saved anywhere")
        say.line(f"mlp-tui: error: {saving.error}; {where}")
        return 1
    if signame is not None:
        return 128 + int(getattr(signal, signame))
    return 130 if interrupted else (1 if snap.state == "diverged" else 0)


class _Say:
    """Lines on stderr that never fail: after a SIGHUP there may be no terminal to write to."""

    def __init__(self, err: Any) -> None:
        self.err = err

    def line(self, text: str) -> None:
        try:  # plain print: a Rich console would wrap long lines at 80 columns when stderr is not a terminal
            print(text, file=sys.stderr, flush=True)
        except OSError:
            pass

"""`mlp-tui train`: its flags; a Trainer, its run directory, a Rich progress bar, and the ways a run can end.

However it ends (done, Ctrl+C, SIGTERM, SIGHUP from a closed terminal or SSH drop, a full disk), the
trained weights end up on disk and run.json says what happened: a full disk stops the saving, not the
training, and the weights are then put where there is room, with a message that says where.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.link import protocol as P
from core.measures import measures_line, split_measures
from core.runs.files import safe_text
from core.runs.folder import METRICS, RUN_FILES, json_safe
from core.signals import BLOCKED_GRACE, StopSignals, detach_on_hangup, exit_status
from core.status import Status
from tui.subcommands.argtypes import CommandLine, path_arg, thread_count
from tui.subcommands.options import add_runs_dir, add_training_options, resolve_settings
from tui.subcommands.train_resume import Start, run_line


def _console() -> Any:
    """stderr for the progress bar: if the reader goes away (`2>&1 | head`), the bar goes quiet and training
    goes on to its end and its save (Rich's own Console would raise SystemExit, losing the run)."""
    from rich.console import Console

    class QuietOnBrokenPipe(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            except OSError:
                pass

    return QuietOnBrokenPipe(stderr=True)


class _Stopper(StopSignals):
    """Ctrl+C, SIGTERM and SIGHUP end the training loop at the next chunk, and the run is saved; after a SIGHUP
    the output goes to /dev/null (the terminal is gone: writes to it would fail)."""

    def __init__(self) -> None:
        super().__init__(on_signal=detach_on_hangup, grace=BLOCKED_GRACE)  # blocked: ends all the same


def rescue(trainer: Any, name: str, dedupe: bool) -> Path | None:
    """Save the weights outside the run folder (the temp folder, else the current one); None if nowhere."""
    from core.runs.checkpoint import save_checkpoint

    for folder in (Path(tempfile.gettempdir()), Path.cwd()):
        path = folder / f"mlp-tui-{name}-step{trainer.step}.pt"
        n = 2
        while os.path.lexists(path):  # never over a file that is there
            path, n = folder / f"mlp-tui-{name}-step{trainer.step}-{n}.pt", n + 1
        try:
            save_checkpoint(trainer, path, dedupe=dedupe)
            return path
        except OSError:
            continue
    return None


def train(args: argparse.Namespace, mcfg: Any, tcfg: Any, data: str = "names", dedupe: bool = False,
          options: Any = None) -> int:
    """`mlp-tui train`, with Ctrl+C, SIGTERM and SIGHUP caught from the first moment: a signal before the
    first step ends it with no run kept; one later saves what was trained. `options`: core.tokens.TextOptions."""
    with _Stopper() as stopper:
        return _session(args, _new_run(args, mcfg, tcfg, data, dedupe, options), stopper)


def resume(args: argparse.Namespace) -> int:
    """`mlp-tui train --resume RUN`: the run continued as the app continues it (tui/subcommands/train_resume.py),
    then trained, saved and reported as a new one is."""
    from tui.subcommands.train_resume import continue_run

    with _Stopper() as stopper:
        return _session(args, continue_run(args), stopper)


def _new_run(args: argparse.Namespace, mcfg: Any, tcfg: Any, source: str, dedupe: bool,
             options: Any = None) -> Start:
    """A new Trainer on these settings, and its run folder, made now (to fail before training if it cannot be)."""
    import core  # noqa: F401  (quiets torch's NumPy warning)
    from core.data import Dataset, resolve_dataset
    from core.engine.train import Trainer
    from core.runs.folder import default_runs_dir
    from core.runs.writer import RunWriter

    tcfg.validate()
    data = Dataset.load(source, mcfg.block_size, dedupe=dedupe, options=options)
    trainer = Trainer(data, mcfg, tcfg)
    writer = RunWriter(_new_folder(args.out), trainer, origin="cli", root=args.runs_dir or default_runs_dir(),
                       stem=resolve_dataset(source).stem, dedupe=dedupe)
    out = writer.open()  # fail now, before training, if the folder cannot be made
    from core.config import init_note

    hints = (data.text_hint(), init_note(mcfg.init, len(data.vocab), data.vocab.tokens))
    hint = [f"note: {safe_text(h)}" for h in hints if h]
    return Start(trainer, writer, out, dedupe, [f"{run_line(trainer)} -> {safe_text(out)}", *hint])


def _session(args: argparse.Namespace, start: Start, stopper: _Stopper) -> int:
    """Train a Start's Trainer in a Session until it ends or a signal comes; save and report."""

    from core.engine.session import Session
    from core.kernels.threads import training_threads
    from core.runs.writer import clocks

    err = _console()
    trainer, mcfg = start.trainer, start.trainer.model_config
    for line in start.lines:
        _Say(err).line(line)
    if trainer.kernel.name != "numba":
        from core.kernels import jit

        if jit.failure():  # installed and wanted, yet broken: say why this run is slower than it should be
            _Say(err).line(f"note: {safe_text(jit.failure())}; training on the torch kernels instead")
    progress, task = _progress_bar(err, trainer, args.quiet)
    dev_curve: list[list[float]] = list(start.dev_curve)  # [seconds, step, dev loss] at each evaluation
    save_errors: list[str] = []

    def on_event(event: Any) -> None:
        if isinstance(event, P.Evaluated):
            dev_curve.append([clocks(trainer)["seconds"], event.step, event.losses["dev"]])  # as evals.jsonl
            progress.update(task, dev=event.losses["dev"])
        elif isinstance(event, P.Error) and not save_errors:  # a full disk: said once, training goes on
            save_errors.append(event.message)
            _Say(err).line(f"warning: {event.message}; training goes on, and the weights will be saved at the end "
                           f"where there is room")

    session = Session(trainer, start.writer, emit=on_event)
    if args.threads is None:  # core.kernels.threads' rule: one for a small model, a core per member of an
        args.threads = training_threads(mcfg, trainer.config.batch_size)  # ensemble, two for a big step
    trainer.threads = args.threads  # the Trainer sets torch's threads from it (an ensemble's are its members',
    session.first_evaluation()  # and its evaluations'); the loss before the first step, as the app shows it
    session.resume()
    first, t0 = trainer.step, time.perf_counter()
    _train_until_stopped(session, progress, task, stopper)
    train_wall = time.perf_counter() - t0
    session.finish(Status.INTERRUPTED if stopper.signal is not None else Status.STOPPED)
    return _finish(args, Ending(session, start.writer, start.out, err, stopper.name, train_wall, dev_curve,
                                save_errors, start.dedupe, trainer.step - first))


def _new_folder(out: Path | None) -> Path | None:
    """--out (expanded by argtypes.path_arg), refused if it holds a run or files a run would write; None (a new
    folder) if not given."""
    from core.errors import MLPTuiError

    if out is None:
        return None
    held = [n for n in RUN_FILES if os.path.lexists(out / n)]
    if held:
        what = "a run" if {"run.json", "model.pt"} & set(held) else f"files a run would write ({', '.join(held)})"
        raise MLPTuiError(f"--out {safe_text(out)}: already holds {what}; give a new folder (nothing was "
                          f"overwritten)")
    return out


def _progress_bar(err: Any, trainer: Any, quiet: bool) -> tuple[Any, Any]:
    """A Rich progress bar on stderr (off with --quiet) and its task: steps, speed, loss, dev, lr, time left.
    An ensemble's training loss is its members' mean (each on its own batch), its dev the ensemble's: labelled
    so, as the app's plot does."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    loss = "members' mean" if trainer.model_config.members > 1 else "loss"
    progress = Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[sps]:>7,.0f} steps/s"), TextColumn(loss + " {task.fields[loss]:.4f}"),
        TextColumn("dev {task.fields[dev]:.4f}"), TextColumn("lr {task.fields[lr]:.3g}"), TimeRemainingColumn(),
        console=err, disable=quiet, transient=False,
    )
    task = progress.add_task("training", total=trainer.total_steps, sps=0.0, loss=math.nan, dev=math.nan,
                             lr=trainer.lr)
    return progress, task


def _train_until_stopped(session: Any, progress: Any, task: Any, stopper: _Stopper) -> None:
    """Step until the session is done or a signal came, the bar redrawn about 10 times a second."""
    trainer = session.trainer
    try:
        with progress:
            while session.running and stopper.signal is None:
                session.step_for(0.1)  # the bar redraws about 10 times a second
                snap = trainer.publish()
                progress.update(task, completed=trainer.step, total=trainer.total_steps,
                                sps=snap.steps_per_second, loss=snap.last_loss, lr=trainer.lr)
            progress.update(task, total=max(trainer.step, 1))
    except OSError:  # the terminal went away under the progress bar (SIGHUP): the run still gets saved
        pass


@dataclass
class Ending:
    """How a `train` run ended, for _finish to save, report and turn into an exit status."""

    session: Any
    writer: Any
    out: Path  # the run folder
    err: Any  # the console of the progress bar (stderr)
    signame: str | None  # the signal that stopped training (SIGINT, SIGTERM, SIGHUP), or None
    train_wall: float  # seconds in the training loop
    dev_curve: list  # [seconds, step, dev loss] at each evaluation
    save_errors: list[str]  # why the run folder stopped taking writes (a full disk), if it did
    dedupe: bool
    trained: int  # steps trained by this process (a continued run's earlier ones are not in train_wall)


def _finish(args: argparse.Namespace, end: Ending) -> int:
    """Rescue the weights if the disk refused them, write metrics.json, report; the exit status."""
    session, writer, out, signame, save_errors = end.session, end.writer, end.out, end.signame, end.save_errors
    trainer = session.trainer
    say = _Say(end.err)
    if session.message:
        say.line(session.message)
    status = session.status
    stopped = "interrupted" if signame == "SIGINT" else signame
    if writer.removed:
        say.line(f"{stopped + ' before' if signame else 'ended at'} the first step; no run was kept")
        return 130 if signame else 1
    if signame is not None:
        say.line(f"{stopped} at step {trainer.step:,}; saved what was trained")
    saved: Path | None = out / "model.pt"
    if save_errors:
        saved = rescue(trainer, out.name, end.dedupe)
        writer.mark("unsaved", rescued_to=None if saved is None else str(saved))
    losses = session.kept_losses
    metrics = _metrics(args, end, status)
    wrote = [saved] if saved is not None else []
    try:
        (out / METRICS).write_text(json.dumps(json_safe(metrics), indent=2) + "\n")
        wrote.append(out / METRICS)
    except OSError as e:
        say.line(f"cannot write {safe_text(out / METRICS)} ({e.strerror or e})")
    if trainer.best_dev_step >= 0:
        best = f"  best dev {trainer.best_dev:.4f} @ step {trainer.best_dev_step:,}"
        best += " (kept)" if session.kept == "best" else ""
    else:
        best = "  (no dev split to evaluate)"
    say.line(f"train {losses['train']:.4f}  dev {losses['dev']:.4f}  test {losses['test']:.4f}{best}  "
             f"({metrics['steps_per_second']:,.0f} steps/s)  wrote {' and '.join(safe_text(p) for p in wrote)}")
    if trainer.data.options.text or trainer.data.options.tokens != "chars":
        say.line(measures_line(metrics["measures"], trainer.data.options.lower))
    if save_errors:
        where = (f"the weights were saved to {safe_text(saved)} instead (mlp-tui sample --checkpoint takes it)"
                 if saved is not None else "the weights could not be saved anywhere")
        say.line(f"mlp-tui: error: {save_errors[0]}; {where}")
        return 1
    if signame == "SIGINT":
        return 130
    if signame is not None:
        return exit_status(signame)
    return 1 if status == Status.DIVERGED else 0


def _metrics(args: argparse.Namespace, end: Ending, status: str) -> dict[str, Any]:
    """metrics.json: the losses of the saved weights, the speed, the settings, the dev curve."""
    from core.runs.checkpoint import dataset_ref
    from core.runs.writer import clocks

    session, train_wall, dedupe = end.session, end.train_wall, end.dedupe
    trainer, tcfg = session.trainer, session.trainer.config
    losses, final = session.kept_losses, session.final_losses
    metrics = {
        "steps": trainer.step,
        **clocks(trainer),  # as run.json says them
        "steps_per_second": round(end.trained / train_wall, 1) if train_wall else 0.0,  # wall time
        "params": trainer.model.num_params(),
        "train_loss": losses["train"],  # of the saved weights (see "kept")
        "dev_loss": losses["dev"],
        "test_loss": losses["test"],
        "kept": session.kept,
        "final_dev_loss": final["dev"],
        "best_dev_loss": trainer.best_dev,
        "best_dev_step": trainer.best_dev_step,
        "status": status,
        "dataset": dataset_ref(trainer.data.source),
        "dedupe": dedupe,
        "data": trainer.data.options.to_dict(),
        "measures": split_measures(trainer.data, losses),  # perplexity; running text: bpc, <unk> rate (words)
        "preset": args.preset,
        "threads": args.threads,
        "config": {"model": trainer.model_config.to_dict(), "train": tcfg.to_dict()},
        "dev_curve": end.dev_curve,
    }
    return metrics


class _Say:
    """Lines on stderr that never fail: after a SIGHUP there may be no terminal to write to."""

    def __init__(self, err: Any) -> None:
        self.err = err

    def line(self, text: str) -> None:
        try:  # plain print: a Rich console would wrap long lines at 80 columns when stderr is not a terminal
            print(text, file=sys.stderr, flush=True)
        except OSError:
            pass


def add_parser(cl: CommandLine) -> None:
    p = cl.add("train", run, description="Train without the app; writes model.pt and metrics.json.")
    if cl.wants_settings("train"):
        add_training_options(p)
    p.add_argument("--out", type=path_arg, default=None, metavar="DIR",
                   help="the run directory: model.pt, metrics.json, run.json, the loss history, evaluations "
                        "and samples (default: a new <dataset>-<date-time> folder in --runs-dir)")
    p.add_argument("--resume", type=path_arg, default=None, metavar="RUN",
                   help="continue this run (a folder, or a run's name in --runs-dir) where it stopped, exactly as an "
                        "unstopped run would have gone on; only live settings may come with it (--steps, --lr, "
                        "the schedule, ...). A run killed before its first checkpoint starts afresh in its folder")
    add_runs_dir(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=thread_count, default=None, metavar="N",
                   help="threads for training (default: 1 for a small model, one per member of an ensemble up "
                        "to the cores here, 2 for a model whose step multiplies big matrices, such as a word "
                        "model's output side, when a second core is free; on 2 cores, 2 torch threads ran one "
                        "model of --preset best at 0.6-1.1x one thread)")


def run(args: argparse.Namespace) -> int:
    """The settings from the flags, a recipe and a preset; then train on them."""
    from core import settings
    from core.config import configs
    from core.tokens import TextOptions

    if getattr(args, "resume", None) is not None:
        return resume(args)
    values = resolve_settings(args)
    settings.validate(values, ())  # the rules across settings, data's included (--dedupe with --format text)
    mcfg, tcfg = configs(values)
    return train(args, mcfg, tcfg, data=values["data"], dedupe=bool(values["dedupe"]),
                 options=TextOptions.from_values(values))

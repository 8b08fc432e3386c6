"""`mlp-tui train --resume RUN`: the run folder it continues, and the flags that may come with it.

A run goes on exactly as the app continues one (core.runs.resume.open_run, the one path of both): the same
weights, optimiser state, batch and dropout streams and schedule, so the losses are those of a run that was
never stopped. Only the registry's live settings (core.settings: steps, lr, the schedule, ...) may come with
it, as the app lets them change on a running model; any other is refused, naming it. A run killed before its
first checkpoint has no weights: it starts afresh on its own settings, in its own folder.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import settings
from core.errors import MLPTuiError
from core.runs.files import safe_text
from tui.subcommands.options import OFF

# flags that are not settings, yet choose what a run is or where it goes: a continued run has its own
NOT_WITH_RESUME = (("--config", "config", "a recipe's settings"), ("--preset", "preset", "a preset's settings"),
                   ("--out", "out", "another folder"))


@dataclass
class Start:
    """A run ready to train, new or continued: its Trainer and writer, its folder, and what to say first."""

    trainer: Any  # core.engine.train.Trainer
    writer: Any  # core.runs.writer.RunWriter, holding the folder
    out: Path  # the run folder
    dedupe: bool
    lines: list[str]  # said before the progress bar
    dev_curve: list[list[float]] = field(default_factory=list)  # [seconds, step, dev loss] of earlier evaluations


def run_line(trainer: Any) -> str:
    """What is trained: the data, the model's size, the optimiser and the length."""
    d, cfg = trainer.data, trainer.config
    length = f"{cfg.minutes:g} minutes" if cfg.minutes else f"{cfg.steps:,} steps"
    return (f"{safe_text(d.source)}: {d.describe()}; "
            f"{trainer.model.num_params():,} parameters; {cfg.optimizer}, {length}")


def live_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The live settings given as flags (`--minutes off`: None); MLPTuiError naming the first other one given."""
    for s in settings.SETTINGS:
        if s.cli and not s.live and getattr(args, s.name, None) is not None:
            typed = s.flag + (f" ({', '.join(s.flags[1:])})" if s.aliases else "")
            raise MLPTuiError(f"--resume: {typed} cannot change on a run that goes on (it keeps its data and "
                              f"model); only live settings can: {', '.join(_live_flags())}")
    for flag, dest, what in NOT_WITH_RESUME:
        if getattr(args, dest, None) is not None:
            raise MLPTuiError(f"--resume: {flag} cannot come with it (a run goes on with its own settings in its own "
                              f"folder, not {what}); only live settings can: {', '.join(_live_flags())}")
    given = {s.name: getattr(args, s.name, None) for s in settings.SETTINGS if s.cli and s.live}
    return {k: (None if v is OFF else v) for k, v in given.items() if v is not None}


def _live_flags() -> list[str]:
    return [s.flag for s in settings.SETTINGS if s.cli and s.live]


def run_folder(args: argparse.Namespace) -> Path:
    """RUN as given; or, if nothing is there and it is a bare name (as `mlp-tui runs` lists them), that run in
    the runs folder."""
    from core.runs.folder import default_runs_dir

    run: Path = args.resume
    if not os.path.lexists(run) and len(run.parts) == 1 and str(run) not in (".", ".."):
        candidate = (args.runs_dir or default_runs_dir()) / run
        if os.path.lexists(candidate):
            return candidate
    return run


def continue_run(args: argparse.Namespace) -> Start:
    """The run of --resume, opened (core.runs.resume), with the live settings given applied, and locked by its
    writer; MLPTuiError in one line if it cannot go on."""
    from core.runs.folder import read_evals
    from core.runs.resume import open_run
    from core.runs.writer import RunWriter

    changes = live_changes(args)  # refused flags first: nothing is read or loaded for a command that fails
    path = run_folder(args)
    where = safe_text(path)
    try:
        opened = open_run(path, fresh=True)
    except MLPTuiError as e:  # missing, not a run, damaged, locked, its data gone: named, and the run if not
        raise MLPTuiError(f"--resume {e}" if str(e).startswith(where) else f"--resume {where}: {e}") from None
    trainer = opened.trainer
    args.preset = _preset_of(path)  # metrics.json is rewritten at the end: it keeps the preset the run began with
    if changes:
        trainer.update_config(**changes)  # as the app's Apply does (Session.apply): validated, one line if not
    if trainer.finished:
        raise MLPTuiError(f"--resume {where}: the run is at its end already, step {trainer.step:,} of "
                          f"{trainer.total_steps:,}; give a larger --steps (or --minutes) to go on")
    tags = {k: opened.info[k] for k in ("study", "trial") if k in opened.info}  # a sweep's trial stays one
    writer = RunWriter(path, trainer, origin=str(opened.info.get("origin", "cli")), resume=True,
                       fresh=opened.fresh, dedupe=trainer.data.dedupe, tags=tags)
    if opened.fresh:
        first = (f"{where}: interrupted before its first checkpoint, so there are no weights to continue: "
                 f"training it afresh on its own settings, in the same folder (its files are rewritten)")
        return Start(trainer, writer, path, trainer.data.dedupe, [first, run_line(trainer)])
    step = f"continuing {where} from step {trainer.step:,}"
    applied = ", ".join(f"{k} {settings.fmt(v) if v is not None else 'off'}" for k, v in changes.items())
    try:  # metrics.json's dev curve from the start; a damaged evals.jsonl costs only its past
        evals = [[e["seconds"], e["step"], e["dev"]] for e in read_evals(path)
                 if e["step"] <= trainer.step and e.get("dev") is not None]
    except MLPTuiError:
        evals = []
    note = [f"note: {opened.note}"] if opened.note else []
    return Start(trainer, writer, path, trainer.data.dedupe,
                 [f"{step}{' with ' + applied if applied else ''}: {run_line(trainer)}", *note], evals)


def _preset_of(path: Path) -> str | None:
    """The preset an earlier metrics.json of the run names, if one does."""
    from core.runs.folder import read_metrics

    try:
        preset = read_metrics(path).get("preset")
    except MLPTuiError:
        return None
    return preset if isinstance(preset, str) and preset in settings.PRESETS else None

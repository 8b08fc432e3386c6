"""`mlp-tui sweep`, `mlp-tui sweep show STUDY` and `mlp-tui sweep export STUDY`: Optuna sweeps (core.sweeps.study).

The sweep starts its worker processes and, while they run, draws the study from the storage: a live
table on a terminal, one line per finished trial otherwise. Ctrl+C or SIGTERM tells the workers to stop;
a trial in flight ends as failed ("interrupted"), never as running, and the study can be resumed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import sys
import time
from typing import Any

from core import settings
from core.runs.files import safe_text
from core.signals import StopSignals, exit_status
from core.sweeps.study import DB_NAME
from tui.subcommands.argtypes import CommandLine, number, path_arg
from tui.subcommands.options import add_runs_dir, add_training_options, resolve_settings


def _storage(args: argparse.Namespace) -> str:
    from core.sweeps.study import default_storage

    return args.storage or default_storage(args.runs_dir)


def cmd_sweep(args: argparse.Namespace, values: dict) -> int:
    from core.errors import ConfigError
    from core.sweeps.study import Budget, create_study, parse_space
    from core.sweeps.workers import WorkerJob, run_workers

    space = parse_space(args.space)
    _, reason = settings.BY_NAME["data"].parse(str(values["data"]))  # before any study or worker: one line
    if reason:
        raise ConfigError(f"--data {safe_text(str(values['data']))}: {reason}")
    if args.trial_steps is None and args.trial_minutes is None:
        args.trial_steps = 50_000
    if args.trials is None and args.sweep_minutes is None:
        raise ConfigError("give --trials N (the study's total) or --sweep-minutes M, or both")
    budget = Budget(args.trial_steps, args.trial_minutes)
    url = _storage(args)
    study = create_study(args.study, url, args.seed, args.heartbeat)
    _check_choices(study, space, args.study)
    seed, base = _join(study, args.seed, values, space)
    workers = args.workers or os.cpu_count() or 1
    deadline = time.time() + 60 * args.sweep_minutes if args.sweep_minutes else None
    job = WorkerJob(args.study, url, base, space, budget, args.trials, deadline,
                    None if args.runs_dir is None else str(args.runs_dir), args.heartbeat, seed)
    what = f"{args.trials} trials" if args.trials else f"{args.sweep_minutes:g} minutes"
    per = f"{budget.steps:,} steps" if budget.steps else f"{budget.minutes:g} minutes"
    print(f"study {args.study} in {_safe_url(url)}: {what}, {per} each, {workers} workers; tuning "
          f"{'; '.join(p.describe() for p in space.values())}", file=sys.stderr, flush=True)
    with StopSignals(("SIGINT", "SIGTERM")) as stop:
        # The workers start with Ctrl+C ignored (an ignored signal stays so across exec) until they have their
        # own handlers; a Ctrl+C meanwhile still reaches this process, which passes it on.
        with stop.ignoring("SIGINT"):
            procs = run_workers(job, workers)
        lost = _watch(args, procs, stop, job)
    if stop.signal is not None:
        return exit_status(stop.signal)
    return 1 if lost else 0


def _safe_url(url: str) -> str:
    from core.sweeps.study import hide_password

    return safe_text(hide_password(url))


def _watch(args: argparse.Namespace, procs: list, stop: StopSignals, job: Any) -> bool:
    """Draw the study until the workers are done; on a signal, pass it on and wait for them. True if a worker
    ended badly."""
    from core.sweeps.study import load_study

    study = load_study(args.study, job.storage, job.heartbeat)
    live = sys.stdout.isatty()
    seen: set[int] = set()
    started = time.time()
    told = False
    display = None
    if live:
        from rich.live import Live

        display = Live(console=None, refresh_per_second=2, transient=False)
        display.start()
    try:
        while any(p.is_alive() for p in procs):
            if stop.signal is not None and not told:
                for p in procs:
                    if p.is_alive():
                        os.kill(p.pid, signal.SIGTERM)
                told = True
            trials = study.get_trials(deepcopy=False)
            if display is not None:
                display.update(_table(study.study_name, trials, started, job))
            else:
                seen = _print_finished(trials, seen)
            for p in procs:
                p.join(timeout=1.0 / max(1, len(procs)))
    finally:
        trials = study.get_trials(deepcopy=False)
        if display is not None:
            display.update(_table(study.study_name, trials, started, job))
            display.stop()
        else:
            _print_finished(trials, seen)
        for p in procs:
            p.join()
    lost = [p for p in procs if p.exitcode not in (0, None)]
    if lost and stop.signal is None:
        codes = ", ".join(str(p.exitcode) for p in lost)
        print(f"{len(lost)} worker{'s' * (len(lost) > 1)} stopped unexpectedly (exit {codes}); a trial left "
              f"running is marked failed once {3 * job.heartbeat} s have passed without its heartbeat and the study "
              f"is touched again (mlp-tui sweep show, or a resumed sweep, which runs it again)", file=sys.stderr)
    print(_summary(trials), file=sys.stderr)
    return bool(lost)


def _check_choices(study: Any, space: dict, name: str) -> None:
    """A resumed study's categories keep their choices: Optuna cannot change them within a study."""
    from core.errors import ConfigError

    for t in study.get_trials(deepcopy=False):  # Optuna cannot change a category's choices within a study
        for setting, dist in t.distributions.items():
            p = space.get(setting)
            had = tuple(getattr(dist, "choices", ()))
            if p is not None and p.value_type == "choice" and had and had != tuple(p.choices):
                shown = "|".join(settings.fmt(c) for c in had)
                raise ConfigError(f"--space {setting}: study {name} has tried {setting}={shown}; a resumed study "
                                  f"keeps its choices (give them in that order, or start a new --study)")


def _join(study: Any, seed: int | None, values: dict, space: dict) -> tuple[int | None, dict]:
    """Take this process's slot in the study and record the settings it does not tune: (sampler seed, base)."""
    # Each sweep process on the study (another machine's, a resume) takes the next slot; its worker i seeds
    # its sampler with seed + 1000 * slot + i, or two processes given the same --seed would draw the same values.
    slot = sum(1 for k in study.user_attrs if k.startswith("process-"))
    study.set_user_attr(f"process-{slot}", {"pid": os.getpid(), "started": time.time()})
    base = {k: v for k, v in values.items() if k not in space}
    from core.data import BUILTIN, resolve_dataset

    if base.get("data") not in BUILTIN:  # a file: absolute, so that show and its recipe work from anywhere
        base["data"] = str(resolve_dataset(base["data"]).resolve())
    study.set_user_attr("base", json.dumps(base))
    study.set_user_attr("space", [p.describe() for p in space.values()])
    return (None if seed is None else seed + 1000 * slot), base


def _print_finished(trials: list, seen: set[int]) -> set[int]:
    """Plain text for a pipe or a file: one line per trial as it finishes."""
    from optuna.trial import TrialState

    for t in trials:
        if t.number in seen or t.state == TrialState.RUNNING or t.state == TrialState.WAITING:
            continue
        seen.add(t.number)
        print(_trial_line(t), flush=True)
    return seen


def _trial_line(t: Any) -> str:
    state = "skipped" if t.user_attrs.get("skipped") else t.state.name.lower()
    last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
    shown = t.value if t.state.name == "COMPLETE" else last  # a pruned trial: its last reported dev loss
    value = f"{shown:.4f}" if shown is not None and math.isfinite(shown) else "-"
    params = " ".join(f"{k}={_fmt(v)}" for k, v in t.params.items())
    steps = t.user_attrs.get("steps")
    note = t.user_attrs.get("skipped") or t.user_attrs.get("error") or ""
    return (f"trial {t.number:>4}  {state:<9} dev {value:>7}  steps {steps if steps is not None else '-':>8}  "
            f"{params}{'  (' + safe_text(note, 120) + ')' if note else ''}")


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _summary(trials: list) -> str:
    from core.sweeps.study import counts, leaderboard

    c = counts(trials)
    top = leaderboard(trials, 1)
    best = f"best dev {top[0].value:.4f} (trial {top[0].number})" if top else "no trial complete yet"
    return (f"{c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed, {c['skipped']} skipped, "
            f"{c['interrupted']} interrupted"
            f"{', ' + str(c['running']) + ' running' if c['running'] else ''}; {best}")


def _table(name: str, trials: list, started: float, job: Any) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from core.sweeps.study import counts, leaderboard

    c = counts(trials)
    done = c["complete"] + c["pruned"] + c["failed"]
    elapsed = time.time() - started
    if job.total:
        eta = elapsed / done * max(0, job.total - done) if done else math.nan
    else:
        eta = max(0.0, job.deadline - time.time()) if job.deadline else math.nan
    t = Table(title=f"study {safe_text(name)}: leaderboard", title_justify="left")
    for col in ("trial", "dev", "steps", "state", "settings"):
        t.add_column(col, justify="right" if col in ("trial", "dev", "steps") else "left")
    for tr in leaderboard(trials, 10):
        t.add_row(str(tr.number), f"{tr.value:.4f}", f"{tr.user_attrs.get('steps', 0):,}", "complete",
                  " ".join(f"{k}={_fmt(v)}" for k, v in tr.params.items()))
    eta_text = "-" if not math.isfinite(eta) else time.strftime("%H:%M:%S", time.gmtime(eta))
    status = Text(f"{_summary(trials)} · {time.strftime('%H:%M:%S', time.gmtime(elapsed))} elapsed · "
                  f"ETA {eta_text}")
    return Group(t, status)


def cmd_sweep_show(args: argparse.Namespace) -> int:
    from core.sweeps.study import SweepError, best_command, counts, leaderboard, load_study

    study = load_study(args.study, _storage(args))
    trials = study.get_trials(deepcopy=False)
    c = counts(trials)
    top = leaderboard(trials, args.top)
    if args.recipe and not top:
        raise SweepError(f"study {args.study}: no trial has completed yet, so there is no best recipe")
    print_ = (lambda *a, **k: None) if args.recipe else print
    print_(f"study {safe_text(args.study)}: {len(trials)} trials ({c['complete']} complete, {c['pruned']} pruned, "
          f"{c['failed']} failed, {c['interrupted']} interrupted, {c['skipped']} skipped, {c['running']} running)")
    for line in study.user_attrs.get("space", []):
        print_(f"  tuned: {safe_text(line)}")
    if not top:
        print("no trial has completed yet")
        return 0
    print_(f"\n{'trial':>5} {'dev':>7} {'test':>7} {'steps':>9}  settings")
    for t in top:
        test = t.user_attrs.get("test")
        test_text = f"{test:.4f}" if isinstance(test, (int, float)) and math.isfinite(test) else "-"
        print_(f"{t.number:>5} {t.value:7.4f} {test_text:>7} {t.user_attrs.get('steps', 0):>9,}  "
              + " ".join(f"{k}={_fmt(v)}" for k, v in t.params.items()))
    best = top[0]
    base = json.loads(study.user_attrs.get("base", "{}"))
    if args.recipe:
        from core.recipe import recipe_text
        from core.sweeps.study import trained_values

        values = trained_values(best, base)
        sys.stdout.write(recipe_text(values, f"mlp-tui sweep show {args.study} --recipe: trial {best.number}, "
                                             f"dev {best.value:.4f}"))
        return 0
    print(f"\nbest: trial {best.number}, dev {best.value:.4f}; its settings:\n  {best_command(best, base)}")
    if best.user_attrs.get("run"):
        print(f"  its run: {safe_text(best.user_attrs['run'])}")
    try:
        import optuna

        importances = optuna.importance.get_param_importances(study)
    except Exception as e:  # noqa: BLE001 - too few trials, or all with the same values
        print(f"\nparameter importances: not yet ({safe_text(str(e).splitlines()[0] if str(e) else type(e).__name__)})")
        return 0
    print("\nparameter importances (Optuna's fANOVA):")
    for k, v in importances.items():
        print(f"  {k:<12} {v:5.2f}  {'#' * round(v * 40)}")
    return 0


def cmd_sweep_export(args: argparse.Namespace) -> int:
    from core.runs.files import output_file
    from core.sweeps.study import load_study

    study = load_study(args.study, _storage(args))
    trials = study.get_trials(deepcopy=False)
    names = sorted({k for t in trials for k in t.params})
    header = ["trial", "state", "dev", "test", "steps", *names, "seconds", "run", "note"]

    def write(f: Any) -> None:
        w = csv.writer(f)
        w.writerow(header)
        for t in trials:
            state = "skipped" if t.user_attrs.get("skipped") else t.state.name.lower()
            seconds = t.duration.total_seconds() if t.duration is not None else ""
            w.writerow([t.number, state, "" if t.value is None else t.value, t.user_attrs.get("test", ""),
                        t.user_attrs.get("steps", ""), *(t.params.get(n, "") for n in names), seconds,
                        t.user_attrs.get("run", ""), t.user_attrs.get("skipped") or t.user_attrs.get("error", "")])

    if args.out is None:
        write(sys.stdout)
    else:
        with output_file(args.out, []) as f:
            write(f)
        print(f"wrote {len(trials)} trials to {safe_text(args.out)}", file=sys.stderr)
    return 0


def add_sweep_options(p: argparse.ArgumentParser) -> None:
    from tui.subcommands.argtypes import positive_int as _positive_int

    p.add_argument("--study", required=True, metavar="NAME", help="the study's name (an existing one is resumed)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="where the study lives: an SQLAlchemy URL (sqlite:///file.db, postgresql://user@host/db, "
                        f"mysql://...) or journal:FILE (default: {DB_NAME} in the runs folder)")
    p.add_argument("--space", default=None, metavar="LIST",
                   help=f"settings to tune, comma-separated, each optionally with a range (lr=1e-3:1:log, "
                        f"hidden=50:600, init=lecture|kaiming); tunable: "
                        f"{', '.join(s.name for s in settings.SETTINGS if s.tune)} (default: "
                        f"lr,n_hidden,n_embd,block_size,batch_size,init)")
    p.add_argument("--trials", type=_positive_int, default=None, metavar="N",
                   help="the study's total number of trials (a resumed study runs up to it)")
    p.add_argument("--sweep-minutes", type=number(float, lambda v: 0 < v <= 10**6, "above 0"), default=None,
                   metavar="M", help="start no trial after this many minutes")
    p.add_argument("--trial-steps", type=_positive_int, default=None, metavar="N",
                   help="steps per trial (default: 50,000 unless --trial-minutes)")
    p.add_argument("--trial-minutes", type=number(float, lambda v: 0 < v <= 10**4, "above 0"), default=None,
                   metavar="M", help="minutes per trial instead of steps")
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="local worker processes, one torch thread each (default: the number of cores)")
    p.add_argument("--heartbeat", type=number(int, lambda v: 1 <= v <= 3600, "from 1 to 3600"), default=10,
                   metavar="S", help="seconds between a worker's heartbeats; a trial silent for 3 of them is "
                                     "marked failed when the study is next touched")


def add_parser(cl: CommandLine) -> None:
    """`sweep`, `sweep show` and `sweep export`."""
    sweep = cl.add("sweep", run, description="Tune settings with Optuna: worker processes (one per core) train "
                   "trials as ordinary runs; the median pruner stops hopeless ones. The flags of mlp-tui train set "
                   "what is not tuned; --seed also seeds the sampler. Also: mlp-tui sweep show STUDY, mlp-tui sweep "
                   "export STUDY.")
    add_sweep_options(sweep)
    if cl.wants_settings("sweep"):
        add_training_options(sweep)
    add_runs_dir(sweep)
    show = cl.add("sweep show", cmd_sweep_show, description="A study's leaderboard, its best settings as a command "
                  "line, and the parameters' importances.")
    show.add_argument("study", metavar="STUDY", help="the study's name")
    show.add_argument("--top", type=number(int, lambda v: 1 <= v <= 1000, "from 1 to 1000"), default=10,
                      metavar="N", help="trials in the leaderboard (default: 10)")
    show.add_argument("--recipe", action="store_true", help="print the best trial's settings as a TOML recipe "
                      "instead (for mlp-tui train --config)")
    export = cl.add("sweep export", cmd_sweep_export, description="A study's trials as CSV.")
    export.add_argument("study", metavar="STUDY", help="the study's name")
    export.add_argument("-o", "--out", type=path_arg, default=None, metavar="FILE", help="write here (default: stdout)")
    for p in (show, export):
        p.add_argument("--storage", default=None, metavar="URL", help="the study's storage (default: "
                       f"{DB_NAME} in the runs folder)")
        add_runs_dir(p)


def run(args: argparse.Namespace) -> int:
    """The settings that are not tuned from the flags, a recipe and a preset; then the sweep."""
    return cmd_sweep(args, resolve_settings(args))

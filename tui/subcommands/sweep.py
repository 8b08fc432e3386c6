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
from tui.subcommands.sweep_report import fmt, print_finished, summary, table


def _storage(args: argparse.Namespace, writing: bool) -> str:
    """--storage, else sweeps.db in the runs folder (made when `writing`); one line for a folder that is a file,
    under a file or read-only, as `train` says it."""
    from core.sweeps.storage import default_storage, runs_root

    if args.storage is None:
        return default_storage(args.runs_dir, writing)
    if writing:
        runs_root(args.runs_dir, writing)  # the trials' run folders go there whatever the storage
    return str(args.storage)


def cmd_sweep(args: argparse.Namespace, values: dict) -> int:
    from core.errors import ConfigError
    from core.sweeps.storage import storage_errors
    from core.sweeps.study import Budget, check_resume, create_study, parse_space
    from core.sweeps.workers import WorkerJob, check_workers, run_workers

    space = parse_space(args.space)
    _, reason = settings.BY_NAME["data"].parse(str(values["data"]))  # before any study or worker: one line
    if reason:
        raise ConfigError(f"--data {safe_text(str(values['data']))}: {reason}")
    from core.data import BOUNDARY, read_lines, read_words

    if values.get("format") == "text":  # running text: any readable UTF-8 file; its tokens are checked per trial
        read_lines(values["data"])
    else:  # a list no trial could load is one line here, not a failed trial per worker
        read_words(values["data"], BOUNDARY if values.get("tokens", "chars") == "chars" else None)
    if args.trial_steps is None and args.trial_minutes is None:
        args.trial_steps = 50_000
    if args.trials is None and args.sweep_minutes is None:
        raise ConfigError("give --trials N (the study's total) or --sweep-minutes M, or both")
    budget = Budget(args.trial_steps, args.trial_minutes)
    workers = check_workers(args.workers)
    url = _storage(args, writing=True)
    with storage_errors(url):
        study = create_study(args.study, url, args.seed, args.heartbeat)
        _check_choices(study, space, args.study)
        base = base_settings(values, space)
        check_resume(study, base, args.preset, budget, list(space))
        seed = join_study(study, args.seed, base, space, args.preset, budget)
    deadline = time.time() + 60 * args.sweep_minutes if args.sweep_minutes else None
    job = WorkerJob(args.study, url, base, space, budget, args.trials, deadline,
                    None if args.runs_dir is None else str(args.runs_dir), args.heartbeat, seed)
    what = f"{args.trials} trials" if args.trials else f"{args.sweep_minutes:g} minutes"
    per = f"{budget.steps:,} steps" if budget.steps else f"{budget.minutes:g} minutes"
    print(f"study {safe_text(args.study)} in {_safe_url(url)}: {what}, {per} each, {workers} workers; tuning "
          f"{'; '.join(p.describe() for p in space.values())}", file=sys.stderr, flush=True)
    with StopSignals(("SIGINT", "SIGTERM")) as stop:
        # The workers start with Ctrl+C ignored (an ignored signal stays so across exec) until they have their
        # own handlers; a Ctrl+C meanwhile still reaches this process, which passes it on.
        with stop.ignoring("SIGINT"):
            procs, reasons = run_workers(job, workers)
        with storage_errors(url):
            lost = _watch(args, procs, stop, job, reasons)
    if stop.signal is not None:
        return exit_status(stop.signal)
    return 1 if lost else 0


def _safe_url(url: str) -> str:
    from core.sweeps.storage import shown

    return shown(url)


def _watch(args: argparse.Namespace, procs: list, stop: StopSignals, job: Any, reasons: Any) -> bool:
    """Draw the study until the workers are done; on a signal, pass it on and wait for them. True if a worker
    ended badly (why is said in one line, and its trial is marked interrupted at once: its worker is gone)."""
    from core.sweeps.study import load_study, tidy

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
                display.update(table(study.study_name, trials, started, job))
            else:
                seen = print_finished(trials, seen)
            for p in procs:
                p.join(timeout=1.0 / max(1, len(procs)))
    finally:
        for p in procs:
            p.join()
        why = _reasons(reasons)
        try:
            tidy(study)  # the trials of workers that died are interrupted, and counted so below
        except Exception:  # noqa: BLE001 - the storage takes no writes: the workers said why
            if not why:
                raise
        trials = study.get_trials(deepcopy=False)
        if display is not None:
            display.update(table(study.study_name, trials, started, job))
            display.stop()
        else:
            print_finished(trials, seen)
    return _report(procs, why, trials, stop)


def _reasons(queue: Any) -> list[str]:
    """The workers' one-line reasons for stopping early, each once."""
    out: list[str] = []
    while not queue.empty():
        text = queue.get()
        if text not in out:
            out.append(text)
    return out


def _report(procs: list, why: list[str], trials: list, stop: StopSignals) -> bool:
    """The summary, and why the sweep stopped early if it did; True if a worker ended badly."""
    from core.sweeps.study import unrecorded

    lost = [p for p in procs if p.exitcode not in (0, None)]
    end = summary(trials)
    if why:
        n = sum(1 for t in trials if unrecorded(t))
        left = (f" ({n} interrupted trial{'s' * (n != 1)} still held as running by the storage, which took no "
                f"writes: a resume marks {'them' if n != 1 else 'it'} interrupted and runs "
                f"{'them' if n != 1 else 'it'} again)") if n else ""
        print(f"{end}; the sweep stopped: {'; '.join(safe_text(w) for w in why)}{left}", file=sys.stderr)
    elif lost and stop.signal is None:
        codes = ", ".join(str(p.exitcode) for p in lost)
        print(f"{end}; {len(lost)} worker{'s' * (len(lost) > 1)} stopped unexpectedly (exit {codes}): their "
              f"trials are marked interrupted, and a resumed sweep runs them again", file=sys.stderr)
    else:
        print(end, file=sys.stderr)
    return bool(lost or why)


def _check_choices(study: Any, space: dict, name: str) -> None:
    """A resumed study's categories keep their choices, and its ranges their scale (log or linear): Optuna
    cannot change either within a study, and a worker would end in a traceback at its first suggestion."""
    from core.errors import ConfigError

    for t in study.get_trials(deepcopy=False):
        for setting, dist in t.distributions.items():
            p = space.get(setting)
            if p is None:
                continue
            had = tuple(getattr(dist, "choices", ()))
            if p.value_type == "choice" and had and had != tuple(p.choices):
                shown = "|".join(settings.fmt(c) for c in had)
                raise ConfigError(f"--space {setting}: study {name} has tried {setting}={shown}; a resumed study "
                                  f"keeps its choices (give them in that order, or start a new --study)")
            was_log = getattr(dist, "log", None)
            if p.value_type != "choice" and was_log is not None and bool(was_log) != p.log:
                scale, other = ("log", "linear") if was_log else ("linear", "log")
                raise ConfigError(f"--space {setting}: study {name} has tried {setting} on a {scale} scale, not "
                                  f"{other}; a resumed study keeps each range's scale (give {setting}=LO:HI:{scale}, "
                                  f"or start a new --study)")


def base_settings(values: dict, space: dict) -> dict:
    """The settings the sweep does not tune; a data file made absolute, so that show and its recipe work
    from anywhere."""
    from core.data import BUILTIN, resolve_dataset

    base = {k: v for k, v in values.items() if k not in space}
    if base.get("data") not in BUILTIN:
        base["data"] = str(resolve_dataset(base["data"]).resolve())
    return base


def join_study(study: Any, seed: int | None, base: dict, space: dict, preset: str | None, budget: Any) -> int | None:
    """Take this process's slot in the study and record the settings it was made with (once); the seed of
    the sampler."""
    from core.sweeps.study import record_made

    # Each sweep process on the study (another machine's, a resume) takes the next slot; its worker i seeds
    # its sampler with seed + 1000 * slot + i, or two processes given the same --seed would draw the same values.
    slot = sum(1 for k in study.user_attrs if k.startswith("process-"))
    study.set_user_attr(f"process-{slot}", {"pid": os.getpid(), "started": time.time()})
    record_made(study, base, preset, budget)
    study.set_user_attr("space", [p.describe() for p in space.values()])
    return None if seed is None else seed + 1000 * slot


def _reading(command: Any) -> Any:
    """`sweep show` and `sweep export`: the storage is only read (never made), and its failures are one line."""
    def run(args: argparse.Namespace) -> int:
        from core.sweeps.storage import storage_errors

        url = _storage(args, writing=False)
        with storage_errors(url):
            return int(command(args, url))
    run.__doc__ = command.__doc__
    return run


def _show(args: argparse.Namespace, url: str) -> int:
    """A study's leaderboard, its best settings as a command line or a recipe, its importances."""
    from core.runs.listing import perplexity_text
    from core.sweeps.objective import study_label, trial_perplexity
    from core.sweeps.study import SweepError, best_command, counts, counts_text, leaderboard, load_study

    study = load_study(args.study, url)
    trials = study.get_trials(deepcopy=False)
    top, what = leaderboard(trials, args.top), study_label(trials, study)  # "dev", or "dev bpc" on running text
    if args.recipe and not top:
        raise SweepError(f"study {args.study}: no trial has completed yet, so there is no best recipe")
    print_ = (lambda *a, **k: None) if args.recipe else print
    print_(f"study {safe_text(args.study)}: {len(trials)} trials ({counts_text(counts(trials))})")
    for line in study.user_attrs.get("space", []):
        print_(f"  tuned: {safe_text(line)}")
    if not top:
        print("no trial has completed yet")
        return 0
    print_(f"\n{'trial':>5} {what:>7} {'dev ppl':>9} {what.replace('dev', 'test'):>8} {'steps':>9}  settings")
    for t in top:
        test = t.user_attrs.get("test")
        test_text = f"{test:.4f}" if isinstance(test, (int, float)) and math.isfinite(test) else "-"
        print_(f"{t.number:>5} {t.value:7.4f} {perplexity_text(trial_perplexity(t, t.value)):>9} {test_text:>8} "
               f"{t.user_attrs.get('steps', 0):>9,}  "
              + " ".join(f"{k}={fmt(v)}" for k, v in t.params.items()))
    best = top[0]
    base = json.loads(study.user_attrs.get("base", "{}"))
    if args.recipe:
        from core.recipe import recipe_text
        from core.sweeps.study import trained_values

        values = trained_values(best, base)
        sys.stdout.write(recipe_text(values, f"mlp-tui sweep show {args.study} --recipe: trial {best.number}, "
                                             f"{what} {best.value:.4f}"))
        return 0
    print(f"\nbest: trial {best.number}, {what} {best.value:.4f} (perplexity "
          f"{perplexity_text(trial_perplexity(best, best.value))}); "
          f"its settings:\n  {best_command(best, base)}")
    if best.user_attrs.get("run"):
        print(f"  its run: {safe_text(best.user_attrs['run'])}")
    from core.sweeps.summary import importances

    found, why = importances(study)
    if not found:
        print(f"\nparameter importances: not yet ({safe_text(why or 'no trial varies a tuned setting')})")
        return 0
    print("\nparameter importances (Optuna's PED-ANOVA):")
    for k, v in found.items():
        print(f"  {k:<12} {v:5.2f}  {'#' * round(v * 40)}")
    return 0


def _export(args: argparse.Namespace, url: str) -> int:
    """A study's trials as CSV, every state named as the summary counts it."""
    from core.runs.files import output_file
    from core.sweeps.study import load_study, trial_note, trial_state

    study = load_study(args.study, url)
    trials = study.get_trials(deepcopy=False)
    names = sorted({k for t in trials for k in t.params})
    header = ["trial", "state", "dev", "test", "steps", *names, "seconds", "run", "note", "objective"]

    def write(f: Any) -> None:
        w = csv.writer(f)
        w.writerow(header)
        for t in trials:
            state = trial_state(t)
            seconds = t.duration.total_seconds() if t.duration is not None else ""
            w.writerow([t.number, state, "" if t.value is None else t.value, t.user_attrs.get("test", ""),
                        t.user_attrs.get("steps", ""), *(t.params.get(n, "") for n in names), seconds,
                        t.user_attrs.get("run", ""), trial_note(t), t.user_attrs.get("objective", "loss")])

    if args.out is None:
        write(sys.stdout)
    else:
        with output_file(args.out, []) as f:
            write(f)
        print(f"wrote {len(trials)} trials to {safe_text(args.out)}", file=sys.stderr)
    return 0


cmd_sweep_show = _reading(_show)
cmd_sweep_export = _reading(_export)


def study_name(text: str) -> str:
    """A study's name: it is part of every trial's run folder name, so no slash, no control character (the one
    rule, core.runs.files.is_refused, and no other format, private or unassigned one), not empty, at most 100
    characters."""
    import unicodedata

    from core.runs.files import is_refused

    if not text.strip():
        raise argparse.ArgumentTypeError("a study needs a name (not empty)")
    if "/" in text or "\\" in text or text in (".", "..") or any(
            is_refused(c) or unicodedata.category(c)[0] == "C" for c in text):  # (U+2028 is Zl: it passed)
        raise argparse.ArgumentTypeError(f"{safe_text(repr(text))}: a study's name is part of its trials' folder "
                                         f"names: no slash, no control characters")
    if len(text) > 100:
        raise argparse.ArgumentTypeError("a study's name is at most 100 characters")
    return text


def add_sweep_options(p: argparse.ArgumentParser) -> None:
    from tui.subcommands.argtypes import positive_int as _positive_int

    p.add_argument("--study", required=True, metavar="NAME", type=study_name,
                   help="the study's name (an existing one is resumed)")
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
    p.add_argument("--workers", type=number(int, lambda v: 1 <= v <= 256, "from 1 to 256"), default=None,
                   metavar="N", help="local worker processes, one torch thread each, each about 400 MB (default: "
                                     "the number of cores, as many as memory holds)")
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
    show.add_argument("study", metavar="STUDY", type=study_name, help="the study's name")
    show.add_argument("--top", type=number(int, lambda v: 1 <= v <= 1000, "from 1 to 1000"), default=10,
                      metavar="N", help="trials in the leaderboard (default: 10)")
    show.add_argument("--recipe", action="store_true", help="print the best trial's settings as a TOML recipe "
                      "instead (for mlp-tui train --config)")
    export = cl.add("sweep export", cmd_sweep_export, description="A study's trials as CSV.")
    export.add_argument("study", metavar="STUDY", type=study_name, help="the study's name")
    export.add_argument("-o", "--out", type=path_arg, default=None, metavar="FILE", help="write here (default: stdout)")
    for p in (show, export):
        p.add_argument("--storage", default=None, metavar="URL", help="the study's storage (default: "
                       f"{DB_NAME} in the runs folder)")
        add_runs_dir(p)


def run(args: argparse.Namespace) -> int:
    """The settings that are not tuned from the flags, a recipe and a preset; then the sweep."""
    return cmd_sweep(args, resolve_settings(args))

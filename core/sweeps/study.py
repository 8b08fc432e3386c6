"""Hyperparameter sweeps on Optuna: the search space from the settings registry, trials as run folders.

A sweep is an Optuna study in a storage (by default an SQLite file in the runs folder; any URL Optuna
takes, so several machines can share one database). Each worker process, one torch thread each, runs
trials one at a time: it asks the study for values of the settings in the space, trains them from
the base settings (a preset and flags) for a fixed budget through a Session writing an ordinary run
folder tagged with the study and trial number, reports the dev loss at fixed step intervals so that
the median pruner can stop hopeless trials, and tells the study the best dev loss. A combination that
breaks a registry rule (hier with a context that is not a power of two, a model too large) is
skipped: marked failed with the reason, and not counted against the budget.

Workers heartbeat through the storage; a worker killed with kill -9 leaves its trial running only
until the grace period passes and anyone touches the study (a worker, a resume, `sweep show`), which
marks it failed. Optuna is imported here only, so the app and `mlp-tui train` never load it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core import settings
from core.errors import ConfigError, MLPTuiError
from core.runs.files import safe_text
from core.status import Status
from core.sweeps.objective import Objective, objective_for
from core.sweeps.reap import reap
from core.sweeps.storage import (
    DB_NAME,
    HEARTBEAT,
    SweepError,
    cause,
    hide_password,
    open_storage,
    shown,
    storage_errors,
    storage_url,
)
from core.sweeps.trials import counts, counts_text, leaderboard, trial_note, trial_state, unrecorded

# (their home is core.sweeps.storage; the app and older callers import them from here)
# (and core.sweeps.trials's counting)
__all__ = ["DB_NAME", "HEARTBEAT", "SweepError", "hide_password", "open_storage", "storage_url", "counts",
           "counts_text", "leaderboard", "trial_note", "trial_state", "unrecorded"]
DEFAULT_SPACE = ("lr", "n_hidden", "n_embd", "block_size", "batch_size", "init")
REPORTS = 10  # dev-loss reports per trial (steps budget): the pruner compares trials at the same steps
REPORT_STEPS = 5_000  # ... every this many steps under a time budget


@dataclass(frozen=True)
class Param:
    """One tuned setting: a float or int range (log or linear), or categories."""

    name: str
    value_type: str  # "float", "int", "choice" (as a Setting's)
    lo: float = 0.0
    hi: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        if self.value_type == "choice":
            return f"{self.name} in {{{', '.join(settings.fmt(c) for c in self.choices)}}}"
        return f"{self.name} {settings.fmt(self.lo)}..{settings.fmt(self.hi)}{' log' if self.log else ''}"

    def suggest(self, trial: Any) -> Any:
        if self.value_type == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.value_type == "int":
            return trial.suggest_int(self.name, int(self.lo), int(self.hi), log=self.log)
        return trial.suggest_float(self.name, self.lo, self.hi, log=self.log)


def tunable() -> list[str]:
    return [s.name for s in settings.SETTINGS if s.tune is not None]


def parse_space(spec: str | None) -> dict[str, Param]:
    """`lr,hidden=50:600,init,lr=1e-3:1:log` -> Params (aliases accepted); ConfigError names the bad item."""
    items = [i.strip() for i in (spec or ",".join(DEFAULT_SPACE)).split(",") if i.strip()]
    if not items:
        raise ConfigError("--space: no settings given")
    out: dict[str, Param] = {}
    for item in items:
        key, eq, rng = item.partition("=")
        name = settings.canonical(key.strip())
        s = settings.BY_NAME.get(name)
        if s is None:
            raise ConfigError(f"--space: unknown setting {key.strip()!r}; tunable: {', '.join(tunable())}")
        if s.tune is None:
            raise ConfigError(f"--space: {name} is not tuned by sweeps; tunable: {', '.join(tunable())}")
        if eq and not rng.strip():
            raise ConfigError(f"--space {key.strip()}=: no range after '=' (give LO:HI, LO:HI:log or a|b, or leave "
                              f"out '=' for the default range {_default_param(s).describe()})")
        out[name] = _param(s, rng.strip()) if eq else _default_param(s)
    return out


def _default_param(s: settings.Setting) -> Param:
    t = s.tune
    assert t is not None
    if t.choices:
        return Param(s.name, "choice", choices=tuple(t.choices))
    value_type = "int" if s.value_type == "int" else "float"
    return Param(s.name, value_type, t.lo, t.hi, log=t.scale in ("log", "log-int"))


def _param(s: settings.Setting, rng: str) -> Param:
    """A range typed by the user: lo:hi[:log|linear] for numbers, a|b|c for choices."""
    where = f"--space {s.name}={rng}"
    if s.value_type in ("choice", "bool"):
        values = []
        for text in rng.split("|"):
            value, reason = s.parse(text)
            if reason:
                raise ConfigError(f"{where}: {text.strip()!r}: {reason}")
            values.append(value)
        return Param(s.name, "choice", choices=tuple(dict.fromkeys(values)))
    parts = rng.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("log", "linear")):
        raise ConfigError(f"{where}: give a range as LO:HI or LO:HI:log")
    (lo, r1), (hi, r2) = s.parse(parts[0]), s.parse(parts[1])
    if r1 or r2:
        raise ConfigError(f"{where}: {r1 or r2}")
    if not lo < hi:
        raise ConfigError(f"{where}: the low end must be below the high end")
    log = len(parts) == 3 and parts[2] == "log"
    if log and lo <= 0:
        raise ConfigError(f"{where}: a log range must start above 0")
    return Param(s.name, "int" if s.value_type == "int" else "float", lo, hi, log)


def search(seed: int | None, budget: Budget | None = None) -> tuple[Any, Any]:
    """The sampler and the pruner: TPE, and the median pruner. A trial whose dev loss at a step is worse
    than the median of earlier trials at the same step stops, once 4 trials have finished and from the
    second report on (the first dev losses say little). Optuna keeps neither in the storage: every
    process that runs trials makes its own."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=8)
    warmup = budget.report_every() + 1 if budget is not None else 0  # no pruning at the first report
    return sampler, optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=warmup)


def load_study(name: str, url: str, heartbeat: int = HEARTBEAT, seed: int | None = None,
               budget: Budget | None = None) -> Any:
    """The study, with its stale trials (workers killed mid-trial) marked failed."""
    import optuna

    storage = open_storage(url, heartbeat, reading=True)
    sampler, pruner = search(seed, budget)
    with storage_errors(url):
        try:
            study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        except KeyError:
            raise SweepError(f"no study named {safe_text(repr(name))} in {shown(url)}") from None
        made_with = study.user_attrs.get("heartbeat")
        if isinstance(made_with, int) and made_with != heartbeat:  # the grace period is the sweep's, not ours
            return load_study(name, url, made_with, seed, budget)
        tidy(study)
    return study


def tidy(study: Any) -> None:
    """Mark interrupted the trials whose worker is dead: at once on this machine (reap), else once their
    heartbeats' grace is over."""
    import optuna

    try:
        reap(study)
        optuna.storages.fail_stale_trials(study)  # (nothing for a journal: it has no heartbeats)
    except Exception as e:  # noqa: BLE001 - a storage that takes no writes (a full disk, a read-only file)
        if cause(e) is None:
            raise
        # Reading goes on: trial_state counts a dead worker's trial as interrupted all the same; a writer
        # (a worker, the sweep command) meets the failure at its own next write and says it in one line.


# ---- one trial ----
class Skip(Exception):
    """This combination breaks a rule of the registry: not a failure of the trial."""


class Interrupted(Exception):
    """The worker was told to stop (Ctrl+C, SIGTERM) in the middle of a trial."""


class Unsaved(MLPTuiError):
    """The trial's run folder could not be written (a full disk, a read-only one): the worker stops."""


@dataclass
class Budget:
    steps: int | None = None
    minutes: float | None = None

    def report_every(self) -> int:
        return max(1, self.steps // REPORTS) if self.steps else REPORT_STEPS


def trial_values(base: Mapping[str, Any], suggested: Mapping[str, Any], budget: Budget) -> dict[str, Any]:
    """The settings a trial trains: the base (preset and flags), the suggested values, the budget."""
    values = {**base, **suggested, "patience": 0, "keep_best": False}
    if budget.minutes is not None:
        values.update(minutes=budget.minutes, steps=10**12)
    else:
        values.update(minutes=None, steps=budget.steps)
        if values.get("schedule") == "step" and "decay_at" not in suggested:
            frac = settings.DEFAULTS["decay_at"] / settings.DEFAULTS["steps"]
            values["decay_at"] = int(budget.steps * frac)  # the lecture's decay at the same share of the run
    return values


def _cached_data(values: dict[str, Any], block_size: int, data_cache: dict) -> Any:
    """The trial's dataset, read once while the trials share its file, split and tokens."""
    from core.data import Dataset
    from core.tokens import TextOptions

    options = TextOptions.from_values(values)
    key = (values["data"], block_size, bool(values.get("dedupe")), options)
    if key not in data_cache:
        data_cache.clear()
        data_cache[key] = Dataset.load(values["data"], block_size, dedupe=bool(values.get("dedupe")), options=options)
    return data_cache[key]


def run_trial(trial: Any, values: dict[str, Any], budget: Budget, runs_dir: Any, study: str,
              stopping: Callable[[], bool], data_cache: dict) -> float:
    """Train one trial's settings into a run folder; its best dev loss. Raises Skip, Interrupted, TrialPruned."""
    import optuna

    from core.config import configs
    from core.engine.train import Trainer
    from core.kernels.threads import training_threads

    trial.set_user_attr("values", json.dumps(values))  # what it trained, in full: show and recipes use it
    broken = settings.broken_rules(values)
    if broken:
        raise Skip(broken[0][1])
    try:
        mcfg, tcfg = configs(values)
        trainer = Trainer(_cached_data(values, mcfg.block_size, data_cache), mcfg, tcfg)
    except ConfigError as e:  # e.g. a model too large for memory
        raise Skip(str(e)) from None
    trainer.threads = training_threads(mcfg, tcfg.batch_size, 1)  # a worker per core: an ensemble's members share it
    session, writer, errors = _open_run(trainer, values, runs_dir, study, trial.number)
    trial.set_user_attr("run", str(writer.path))
    objective = Objective(trainer.data, trial)  # dev bits per character on running text, else the dev loss
    session.resume()
    every = budget.report_every()
    next_report = every
    try:
        while session.running:
            if stopping():
                session.finish(Status.INTERRUPTED)
                raise Interrupted()
            session.step(until=next_report)
            if trainer.step >= next_report:
                dev = objective(session.evaluate(full=False)["dev"])
                trial.report(dev if math.isfinite(dev) else 1e9, trainer.step)
                next_report += every
                if trial.should_prune():
                    trial.set_user_attr("steps", trainer.step)
                    session.finish(Status.STOPPED)
                    raise optuna.TrialPruned(f"{objective.label} {dev:.4f} at step {trainer.step:,}")
        if session.status == Status.DIVERGED:
            session.finish(Status.DIVERGED)
            raise MLPTuiError(session.message)
        session.finish(Status.DONE)
    finally:
        session.close(Status.STOPPED)
        if trainer.step > 0 and writer.saved_step != trainer.step:  # the disk refused it
            trial.set_user_attr("steps", trainer.step)
            said = next((m for m in errors if "cannot save" in m), "its run could not be saved")
            raise Unsaved(said.partition("; this run is no longer")[0])
    trial.set_user_attr("steps", trainer.step)
    trial.set_user_attr("test", objective(session.final_losses.get("test"), "test"))  # as the value: bpc on text
    trial.set_user_attr("train", objective(session.final_losses.get("train"), "train"))
    best = trainer.best_dev
    if not math.isfinite(best):
        raise MLPTuiError("no dev loss (the dataset has no dev split)")
    return objective(best)


def _open_run(trainer: Any, values: dict[str, Any], runs_dir: Any, study: str, number: int) -> tuple[Any, Any, list]:
    """A trial's run folder and its Session: (session, writer, the save errors it reports). Unsaved if the
    runs folder takes no writes."""
    from core.data import resolve_dataset
    from core.engine.session import Session
    from core.link.protocol import Error
    from core.runs.writer import RunWriter

    stem = f"{resolve_dataset(values['data']).stem}-{study}-trial{number}"
    writer = RunWriter(None, trainer, origin="sweep", root=runs_dir, stem=stem, dedupe=bool(values.get("dedupe")),
                       tags={"study": study, "trial": number})
    errors: list[str] = []
    session = Session(trainer, writer, emit=lambda e: errors.append(e.message) if isinstance(e, Error) else None)
    try:
        writer.open()
    except MLPTuiError as e:  # RunError: the runs folder takes no writes
        raise Unsaved(str(e)) from None
    return session, writer, errors


def create_study(name: str, url: str, seed: int | None, heartbeat: int = HEARTBEAT) -> Any:
    """Create the study, or load it to resume (same name, same storage)."""
    import optuna

    storage = open_storage(url, heartbeat)
    sampler, pruner = search(seed)
    with storage_errors(url):
        study = optuna.create_study(study_name=name, storage=storage, direction="minimize", sampler=sampler,
                                    pruner=pruner, load_if_exists=True)
        if "heartbeat" not in study.user_attrs:  # the study's grace period: set once, kept on a resume
            study.set_user_attr("heartbeat", heartbeat)
        tidy(study)
    return study


def trained_values(trial: Any, base: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting a trial trained with: as it recorded them, else (an older trial) the base and its params."""
    try:
        recorded = json.loads(trial.user_attrs.get("values", ""))
    except ValueError:
        recorded = None
    values = recorded if isinstance(recorded, dict) else {**base, **trial.params}
    return {**settings.DEFAULTS, **{k: v for k, v in values.items() if k in settings.BY_NAME}}


def best_command(trial: Any, base: Mapping[str, Any]) -> str:
    """A trial's settings as a ready `mlp-tui train` command line (what differs from the defaults): it trains
    what the trial trained, decay step and length included."""
    import shlex

    values = trained_values(trial, base)
    parts = ["mlp-tui", "train"]
    for s in settings.SETTINGS:
        v = values.get(s.name, s.default)
        if not s.cli or v == s.default or v is None or s.name in ("patience", "keep_best"):
            continue
        if s.value_type == "bool":
            parts += [s.flag] if v else []
        else:
            parts += [s.flag, repr(v) if isinstance(v, float) else str(v)]
    return shlex.join(parts)


def check_resume(study: Any, base: Mapping[str, Any], preset: str | None, budget: Budget,
                 tuned: Iterable[str] | None = None) -> None:
    """A resumed study trains as it was made: the same tuned settings (their ranges may change), data, preset,
    budget and fixed settings (the seed aside), else its leaderboard would rank unlike trials. A mismatch is
    one ConfigError naming both values."""
    had_base = study.user_attrs.get("base")
    if had_base is None:
        return  # a new study (or one that never recorded its settings)
    old = json.loads(had_base)
    made = study.user_attrs.get("made", {})
    name = study.study_name
    was_tuned = [str(d).split(" ", 1)[0] for d in study.user_attrs.get("space", [])]  # ("lr 0.0001..1 log")
    if tuned is not None and was_tuned and set(was_tuned) != set(tuned):
        raise ConfigError(f"--space {safe_text(','.join(tuned))}: study {safe_text(name)} tunes "
                          f"{safe_text(','.join(was_tuned))}; a resumed study tunes the same settings (give --space "
                          f"{safe_text(','.join(was_tuned))}, their ranges may change, or start a new study: "
                          f"--study {safe_text(name)}-2)")
    wanted = {"--preset": (made.get("preset", preset), preset),
              "--trial-steps": (made.get("trial_steps", budget.steps), budget.steps),
              "--trial-minutes": (made.get("trial_minutes", budget.minutes), budget.minutes)}
    for key in sorted(set(old) | set(base), key=lambda k: (k != "data", k)):
        if key != "seed" and key in settings.BY_NAME and old.get(key) != base.get(key):
            wanted[settings.BY_NAME[key].flag or key] = (old.get(key), base.get(key))
    for flag, (was, now) in wanted.items():
        if was != now:
            def show(v: Any) -> str:
                return "(none)" if v is None else safe_text(settings.fmt(v) if not isinstance(v, str) else v)
            raise ConfigError(f"{flag} {show(now)}: study {safe_text(name)} was made with {flag} {show(was)}; a "
                              f"resumed study keeps its settings (give the same, or start a new study: "
                              f"--study {safe_text(name)}-2)")


def record_made(study: Any, base: Mapping[str, Any], preset: str | None, budget: Budget) -> None:
    """The settings a study was made with, written once: a resume never overwrites them."""
    if "base" not in study.user_attrs:
        study.set_user_attr("made", {"preset": preset, "trial_steps": budget.steps, "trial_minutes": budget.minutes})
        study.set_user_attr("objective", objective_for(base))  # core.sweeps.objective: bpc on running text
        study.set_user_attr("base", json.dumps(base))

"""A sweep's worker processes: each runs trials of one study until its budget is spent or a signal says
stop (core.sweeps.study holds the space, the storage and one trial)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from core.errors import MLPTuiError
from core.sweeps.study import HEARTBEAT, Budget, Interrupted, Skip, counts, load_study, run_trial, trial_values


@dataclass(frozen=True)
class WorkerJob:
    """What a worker needs, picklable for a spawned process."""

    study: str
    storage: str
    base: dict
    space: dict  # name -> Param
    budget: Budget
    total: int | None  # the study's total number of trials, or None with only a time budget
    deadline: float | None  # time.time() after which no new trial starts (--sweep-minutes)
    runs_dir: str | None
    heartbeat: int = HEARTBEAT
    seed: int | None = None  # the sampler's; worker i seeds its own with seed + i


def want_more(study: Any, job: WorkerJob) -> bool:
    """Start another trial? Not past the deadline, and not when done and running trials reach the total."""
    if job.deadline is not None and time.time() >= job.deadline:
        return False
    if job.total is None:
        return True
    c = counts(study.get_trials(deepcopy=False))
    return c["complete"] + c["pruned"] + c["failed"] + c["running"] < job.total  # not skipped, not interrupted


MAX_SKIPS = 50  # skipped trials in a row after which a worker gives up: the space may hold nothing valid


def worker_main(job: WorkerJob, index: int = 0) -> None:
    """Run trials of the study until its budget is spent or a signal says stop (a trial in flight ends as
    failed, with "interrupted"). One torch thread: the sweep runs one worker per core. A worker whose
    sweep command is gone (killed outright) stops too."""
    import multiprocessing

    from core.signals import StopSignals

    # First, so that a Ctrl+C during the imports below ends cleanly too; never restored (the process ends here).
    stop = StopSignals().install()
    parent = multiprocessing.parent_process()
    orphaned = False

    def stopping() -> bool:
        nonlocal orphaned
        if stop.signal is None and parent is not None and not parent.is_alive():
            orphaned = True
        return stop.signal is not None or orphaned

    import torch

    torch.set_num_threads(1)
    seed = None if job.seed is None else job.seed + index
    study = load_study(job.study, job.storage, job.heartbeat, seed, job.budget)
    data_cache: dict = {}

    def objective(trial: Any) -> float:
        if job.total is not None:  # two workers can both have seen room for "the last" trial: one stands down
            c = counts(study.get_trials(deepcopy=False))  # (this trial is among the running)
            if c["complete"] + c["pruned"] + c["failed"] + c["running"] > job.total:
                trial.set_user_attr("skipped", "the study's budget was reached by other workers")
                raise Skip("over budget")
        suggested = {name: p.suggest(trial) for name, p in job.space.items()}
        values = trial_values(job.base, suggested, job.budget)
        try:
            return run_trial(trial, values, job.budget, job.runs_dir, job.study, stopping, data_cache)
        except Skip as e:
            trial.set_user_attr("skipped", str(e))
            raise
        except Interrupted:
            trial.set_user_attr("error", "interrupted")
            raise
        except MLPTuiError as e:
            trial.set_user_attr("error", str(e))
            raise

    skips = 0
    while not stopping() and want_more(study, job):
        before = len(study.get_trials(deepcopy=False))
        study.optimize(objective, n_trials=1, catch=(Skip, Interrupted, MLPTuiError), gc_after_trial=False)
        mine = [t for t in study.get_trials(deepcopy=False)[before:] if t.user_attrs.get("skipped")]
        skips = skips + 1 if mine else 0
        if skips >= MAX_SKIPS:
            print(f"sweep worker {index}: the last {MAX_SKIPS} combinations all broke a rule "
                  f"({mine[-1].user_attrs['skipped']}); stopping: widen --space or change the fixed settings",
                  file=sys.stderr, flush=True)
            break


def run_workers(job: WorkerJob, workers: int) -> list[Any]:
    """Start `workers` spawned processes on the job; the caller watches the storage and joins them."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=worker_main, args=(job, i), name=f"sweep-worker-{i}", daemon=False)
             for i in range(workers)]
    for p in procs:
        p.start()
    return procs

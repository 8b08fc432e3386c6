"""A sweep's worker processes: each runs trials of one study until its budget is spent or a signal says
stop (core.sweep holds the space, the storage and one trial)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from core.errors import MLPTuiError
from core.sweep import HEARTBEAT, Budget, Interrupted, Skip, counts, load_study, run_trial, trial_values


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
    return c["complete"] + c["pruned"] + c["failed"] + c["running"] < job.total


def worker_main(job: WorkerJob, index: int = 0) -> None:
    """Run trials of the study until its budget is spent or a signal says stop (a trial in flight ends as
    failed, with "interrupted"). One torch thread: the sweep runs one worker per core."""
    import signal

    import torch

    stop = {"signal": None}

    def on_signal(signum: int, frame: Any) -> None:
        stop["signal"] = signum

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)
    torch.set_num_threads(1)
    seed = None if job.seed is None else job.seed + index
    study = load_study(job.study, job.storage, job.heartbeat, seed, job.budget)
    data_cache: dict = {}

    def objective(trial: Any) -> float:
        suggested = {name: p.suggest(trial) for name, p in job.space.items()}
        values = trial_values(job.base, suggested, job.budget)
        try:
            return run_trial(trial, values, job.budget, job.runs_dir, job.study, lambda: stop["signal"] is not None,
                             data_cache)
        except Skip as e:
            trial.set_user_attr("skipped", str(e))
            raise
        except Interrupted:
            trial.set_user_attr("error", "interrupted")
            raise
        except MLPTuiError as e:
            trial.set_user_attr("error", str(e))
            raise

    while stop["signal"] is None and want_more(study, job):
        study.optimize(objective, n_trials=1, catch=(Skip, Interrupted, MLPTuiError), gc_after_trial=False)


def run_workers(job: WorkerJob, workers: int) -> list[Any]:
    """Start `workers` spawned processes on the job; the caller watches the storage and joins them."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=worker_main, args=(job, i), name=f"sweep-worker-{i}", daemon=False)
             for i in range(workers)]
    for p in procs:
        p.start()
    return procs

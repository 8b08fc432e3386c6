"""A sweep's worker processes: each runs trials of one study until its budget is spent or a signal says
stop (core.sweeps.study holds the space, the storage and one trial).

A worker that cannot go on (the study's storage or the runs folder takes no writes: a full disk, a
read-only one) says why in one line to the sweep command, through a queue, and stops; the command says
it once for all its workers.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError, MLPTuiError
from core.sweeps.reap import INTERRUPTED, worker_id
from core.sweeps.storage import cause, hide_password
from core.sweeps.study import (
    HEARTBEAT,
    Budget,
    Interrupted,
    Skip,
    Unsaved,
    counts,
    load_study,
    run_trial,
    tidy,
    trial_values,
)

WORKER_MB = 400  # what a worker holds once torch is loaded and a small model trains (measured: about 330 MB)
MAX_WORKERS = 256


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


def available_mb() -> int | None:
    """Memory available to new processes, in MB (Linux's MemAvailable); None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_workers(asked: int | None, free_mb: int | None = None) -> int:
    """The number of workers: as asked (default: one per core), refused past what memory holds, since each
    loads torch (WORKER_MB)."""
    free_mb = available_mb() if free_mb is None else free_mb
    fits = MAX_WORKERS if free_mb is None else max(1, min(MAX_WORKERS, free_mb // WORKER_MB))
    if asked is None:
        return max(1, min(os.cpu_count() or 1, fits))
    if asked > fits:
        where = f"; {free_mb:,} MB are available here" if free_mb is not None else ""
        raise ConfigError(f"--workers {asked}: each worker loads torch (about {WORKER_MB} MB){where}: give at most "
                          f"{fits} (one per core is fastest)")
    return asked


def plan(study: Any, job: WorkerJob) -> str:
    """"start" another trial, "wait" for running ones that may yet end interrupted (a resume right after a
    kill), or "done": past the deadline, or the finished and running trials reach the total."""
    if job.deadline is not None and time.time() >= job.deadline:
        return "done"
    if job.total is None:
        return "start"
    tidy(study)  # a dead worker's trial is interrupted now (this machine) or after its grace (another one)
    c = counts(study.get_trials(deepcopy=False))
    finished = c["complete"] + c["pruned"] + c["failed"]  # not skipped, not interrupted
    if finished + c["running"] < job.total:
        return "start"
    return "wait" if finished < job.total else "done"


def want_more(study: Any, job: WorkerJob) -> bool:
    """Start another trial now?"""
    return plan(study, job) == "start"


MAX_SKIPS = 50  # skipped trials in a row after which a worker gives up: the space may hold nothing valid


def worker_main(job: WorkerJob, index: int = 0, reasons: Any = None) -> None:
    """Run trials of the study until its budget is spent or a signal says stop (a trial in flight ends as
    interrupted). One torch thread: the sweep runs one worker per core. A worker whose sweep command is gone
    (killed outright) stops too; one that cannot write (storage, runs folder) puts why on `reasons`."""
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

    try:
        _work(job, index, stopping)
    except Exception as e:  # noqa: BLE001 - a storage or a disk that takes no writes: one line, not a traceback
        why = str(e) if isinstance(e, MLPTuiError) else cause(e)
        if why is None or reasons is None:
            raise
        if not isinstance(e, MLPTuiError):
            why = f"cannot write the study's storage: {hide_password(why, job.storage)}"
        reasons.put(why)
        raise SystemExit(3) from None


def _work(job: WorkerJob, index: int, stopping: Any) -> None:
    """worker_main's loop: trials until the plan says done."""
    import torch

    torch.set_num_threads(1)
    seed = None if job.seed is None else job.seed + index
    study = load_study(job.study, job.storage, job.heartbeat, seed, job.budget)
    data_cache: dict = {}
    me = worker_id()

    def objective(trial: Any) -> float:
        trial.set_user_attr("worker", me)  # first: a kill from here on is known at once (core.sweeps.reap)
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
            trial.set_user_attr("error", INTERRUPTED)
            raise
        except Unsaved as e:  # the worker stops after it: every later trial would fail the same way
            trial.set_user_attr("error", f"not saved: {e}")
            trial.set_user_attr("unsaved", True)
            raise
        except MLPTuiError as e:
            trial.set_user_attr("error", str(e))
            raise

    skips = 0
    while not stopping():
        step = plan(study, job)
        if step == "done":
            break
        if step == "wait":
            time.sleep(0.5)
            continue
        before = len(study.get_trials(deepcopy=False))
        study.optimize(objective, n_trials=1, catch=(Skip, Interrupted, MLPTuiError), gc_after_trial=False)
        mine = study.get_trials(deepcopy=False)[before:]
        unsaved = [t for t in mine if t.user_attrs.get("unsaved")]
        if unsaved:
            raise Unsaved(unsaved[-1].user_attrs["error"])
        skipped = [t for t in mine if t.user_attrs.get("skipped")]
        skips = skips + 1 if skipped else 0
        if skips >= MAX_SKIPS:
            why = skipped[-1].user_attrs["skipped"]
            raise MLPTuiError(f"the last {MAX_SKIPS} combinations all broke a rule ({why}); widen --space or change "
                              f"the fixed settings")


def run_workers(job: WorkerJob, workers: int) -> tuple[list[Any], Any]:
    """Start `workers` spawned processes on the job: (the processes, the queue of their reasons for stopping
    early); the caller watches the storage and joins them."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    reasons = ctx.SimpleQueue()
    procs = [ctx.Process(target=worker_main, args=(job, i, reasons), name=f"sweep-worker-{i}", daemon=False)
             for i in range(workers)]
    for p in procs:
        p.start()
    return procs, reasons

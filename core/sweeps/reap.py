"""Trials whose worker is gone: each trial records its worker (host, pid, the process's start time), so a
trial left running by a worker killed outright on this machine is known dead at once and marked
interrupted, instead of counting as running until its heartbeats' grace period is over.

A worker on another machine cannot be checked from here: its trials wait for the grace period (heartbeats).
"""

from __future__ import annotations

import os
import socket
from typing import Any

INTERRUPTED = "interrupted"  # a trial's "error" when a signal or a dead worker ended it: a resume runs it again


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the process's name (Linux); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().decode("ascii", "replace").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), to tell it from a later process given its pid."""
    stat = _stat(pid)
    return stat[19] if stat is not None and len(stat) > 19 else None


def worker_id() -> dict[str, Any]:
    """This process, as a trial records its worker."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": start_time(os.getpid())}


def worker_gone(info: Any) -> bool:
    """True when the worker recorded in `info` is known dead: on this machine, and its pid gone or reused."""
    if not isinstance(info, dict) or info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return False
    pid = info["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # alive (another user's process)
    stat = _stat(pid)
    if stat is not None and stat[0] in ("Z", "X"):  # killed, and not yet waited for by its parent
        return True
    started = start_time(pid)
    return info.get("started") is not None and started is not None and started != info["started"]


def reap(study: Any) -> int:
    """Mark interrupted every running trial of `study` whose worker is known dead; how many were."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    storage = study._storage
    reaped = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        info = t.user_attrs.get("worker")
        if not worker_gone(info):
            continue
        try:
            storage.set_trial_user_attr(t._trial_id, "error", INTERRUPTED)
            storage.set_trial_user_attr(t._trial_id, "note", f"its worker (pid {info['pid']}) is gone")
            if storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                reaped += 1
        except UpdateFinishedTrialError:
            continue  # it ended meanwhile
    return reaped

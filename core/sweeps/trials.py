"""Counting a study's trials as every listing names them (the sweep's summary, `sweep show`, the app's
sweeps view, the workers' plan): one state per trial, read from the storage and, for a trial still
held as running, from whether its worker is alive, so a storage that could not be told of a worker's end
(a full disk) does not show its trials as running.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core.sweeps.reap import INTERRUPTED, worker_gone


def trial_state(t: Any) -> str:
    """A trial's state as every listing names it: skipped (a broken rule) and interrupted (a signal, a dead
    worker) apart from failed, since they do not count against the budget and a resume runs them again."""
    from optuna.trial import TrialState

    if t.user_attrs.get("skipped"):
        return "skipped"
    if t.state == TrialState.FAIL and t.user_attrs.get("error") in (None, INTERRUPTED):
        return "interrupted"
    if t.state == TrialState.RUNNING and worker_gone(t.user_attrs.get("worker")):
        return "interrupted"  # its worker is dead, whether or not the storage could be told (a full disk)
    return {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
            TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}.get(t.state, t.state.name.lower())


def unrecorded(t: Any) -> bool:
    """A trial the storage still holds as running though its worker is dead: the storage took no write."""
    return t.state.name == "RUNNING" and trial_state(t) == "interrupted"


def trial_note(t: Any) -> str:
    """Why a trial is in its state, as the listings print it: skipped's rule, a note, the error ("" if none)."""
    said = t.user_attrs.get("skipped") or t.user_attrs.get("note") or t.user_attrs.get("error") or ""
    if not said and unrecorded(t):
        said = f"its worker (pid {t.user_attrs['worker']['pid']}) is gone"  # as core.sweeps.reap notes it
    return str(said)


def counts_text(c: Mapping[str, int]) -> str:
    """A study's counts as every listing prints them (the sweep's summary, sweep show, the app's view)."""
    text = (f"{c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed, {c['skipped']} skipped, "
            f"{c['interrupted']} interrupted")
    return text + (f", {c['running']} running" if c["running"] else "")


def counts(trials: list[Any]) -> dict[str, int]:
    """Trials by trial_state."""
    out = {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "skipped": 0, "interrupted": 0}
    for t in trials:
        state = trial_state(t)
        if state in out:
            out[state] += 1
    return out


def leaderboard(trials: list[Any], top: int = 10) -> list[Any]:
    """The complete trials, best dev loss first."""
    from optuna.trial import TrialState

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)]
    return sorted(done, key=lambda t: t.value)[:top]

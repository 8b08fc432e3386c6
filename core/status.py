"""A run's status: the one vocabulary of the Session, the snapshot, run.json, metrics.json and the app.

Each value is a plain string (Status is a `str`), so run.json, metrics.json and the protocol carry the
same words as before and compare equal to them. The named subsets say who can be in which status.
Torch-free: the app and the run listing import it freely.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """What a run is doing, or how it ended."""

    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"  # reached its length (or patience)
    DIVERGED = "diverged"
    STOPPED = "stopped"  # ended from outside: the app quit, a reset, a load, `train` ended short
    INTERRUPTED = "interrupted"  # a signal (Ctrl+C, SIGTERM, SIGHUP) ended `mlp-tui train`
    IDLE = "idle"  # a Trainer that has not trained yet (its own snapshot, before a Session drives it)
    UNSAVED = "unsaved"  # the run folder could not be written any more (a full disk)
    LOADING = "loading"  # the app waits for the training process's new model
    ERROR = "error"  # the app's new model could not be made
    CRASHED = "crashed"  # the app's training process died

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# A Session's statuses (core.engine.session); the ones it can be ended with from outside are ENDINGS.
SESSION = frozenset({Status.RUNNING, Status.PAUSED, Status.DONE, Status.DIVERGED, Status.STOPPED,
                     Status.INTERRUPTED})
LIVE = frozenset({Status.RUNNING, Status.PAUSED})  # a session that has not ended
FINAL = frozenset({Status.DONE, Status.DIVERGED})  # ended by the run itself: kept whatever ends it later
# A snapshot's (core.link.protocol.Snapshot): the Trainer's own (idle, done, diverged) and the Session's.
SNAPSHOT = SESSION | {Status.IDLE}
# What run.json's "status" may say (core.runs.folder): the session's, and a folder no longer written.
RUN_FOLDER = SESSION | {Status.IDLE, Status.UNSAVED}
# What the app shows (tui): a snapshot's, and its own while the training process is not there.
APP = SNAPSHOT | {Status.LOADING, Status.ERROR, Status.CRASHED}

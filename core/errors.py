"""Errors a user can cause. Each carries a one-line message meant to be shown as it is."""

from __future__ import annotations


class MLPTuiError(Exception):
    """Base for every error the front ends show as a message instead of a traceback."""


class DataError(MLPTuiError):
    """A dataset file that cannot be used: missing, a directory, empty, not UTF-8 text, ..."""


class ConfigError(MLPTuiError):
    """A setting's value out of range, or settings that do not go together.

    `names` are the settings it concerns, in the registry's names (a form marks the first), so that no
    front end has to read them back out of the message; `brief` says the same without naming the model,
    for a place that shows the model's sizes already (the app's parameter count)."""

    def __init__(self, message: str, names: tuple[str, ...] = (), brief: str | None = None) -> None:
        super().__init__(message)
        self.names = tuple(names)
        self.brief = message if brief is None else brief

    def __reduce__(self) -> tuple:  # pickled whole (a process's error reaches the app with its names)
        return (type(self), (str(self), self.names, self.brief))


class CheckpointError(MLPTuiError):
    """A checkpoint file that is missing, damaged or not ours."""

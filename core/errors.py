"""Errors a user can cause. Each carries a one-line message meant to be shown as it is."""


class MLPTuiError(Exception):
    """Base for every error the front ends show as a message instead of a traceback."""


class DataError(MLPTuiError):
    """A dataset file that cannot be used: missing, a directory, empty, not UTF-8 text, ..."""


class ConfigError(MLPTuiError):
    """A hyperparameter value out of range."""


class CheckpointError(MLPTuiError):
    """A checkpoint file that is missing, damaged or not ours."""

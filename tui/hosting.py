"""Where the app runs, decided here and nowhere else: in a terminal of its own, or served to a browser tab by
`mlp-tui serve` (textual-serve runs each tab's app with TEXTUAL_DRIVER set to its web driver, and its stdout on
a pipe). A lone app may use every core here, as `mlp-tui train` does; a served one runs beside the other tabs'
(serve allows one session per core), so it keeps to one.
"""

from __future__ import annotations

import os


def served() -> bool:
    """True when the app is served to a browser tab (mlp-tui serve), not run in a terminal."""
    return bool(os.environ.get("TEXTUAL_DRIVER"))


def core_budget() -> int:
    """The cores the app's training process may use: one when served, else the cores here (an ensemble's
    members then train a core each, up to these: core.kernels.threads.training_threads)."""
    return 1 if served() else os.cpu_count() or 1


def holds_every_core(cores: int) -> bool:
    """Whether a training process on `cores` cores leaves none here to the UI (a lone app's ensemble, its members a
    core each): the UI's drawing then takes its time from the members, so the plot redraws less often."""
    return cores >= (os.cpu_count() or 1)

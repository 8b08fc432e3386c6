"""The course's dev-loss landmarks on the built-in names, written once: the plot draws them as guides, so that
a learner sees where a run stands against the lecture series.

Torch-free. The numbers are the dev losses the lectures report on names.txt (makemore parts 2, 3 and 5, and
makemore's transformer); they hold for the built-in names only, with or without --dedupe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

NAMES = "names"  # the built-in dataset the landmarks were measured on


@dataclass(frozen=True)
class Milestone:
    """One landmark: a dev loss (nats per character) and who reached it."""

    dev: float
    what: str  # in full, for the help and the README
    short: str  # on the plot, beside the number
    part: str  # the lecture, on a plot wide enough


    @property
    def log10(self) -> float:
        """Where it goes on the plot, whose y axis is log10 of the loss."""
        return math.log10(self.dev)

    def label(self, wide: bool = True) -> str:
        """Its label on the plot: "2.17 MLP (part 2)", or "2.17 MLP" where room is short."""
        return f"{self.dev:.2f} {self.short}" + (f" ({self.part})" if wide and self.part else "")


MILESTONES: tuple[Milestone, ...] = (
    Milestone(2.17, "this lecture's MLP", "MLP", "part 2"),
    Milestone(2.10, "part 3's initialisation", "init", "part 3"),
    Milestone(1.99, "part 5's WaveNet", "WaveNet", "part 5"),
    Milestone(1.92, "makemore's transformer", "transformer", "makemore"),
)


def is_builtin_names(source: str) -> bool:
    """Whether a dataset (as Ready names it: the built-in's name or a path) is the built-in names: by name, or a
    path to the built-in file itself."""
    if source == NAMES:
        return True
    from core.data import builtin_dir  # torch-free

    try:
        return Path(source).expanduser().resolve() == (builtin_dir() / f"{NAMES}.txt").resolve()
    except (OSError, RuntimeError, ValueError):
        return False


def milestones_for(source: str) -> tuple[Milestone, ...]:
    """The landmarks that mean something for this dataset: all of them on the built-in names, none elsewhere."""
    return MILESTONES if is_builtin_names(source) else ()

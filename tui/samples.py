"""Freshly sampled names, newest batch at the top, each marked new or already in the training set."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import Static

MAX_BATCHES = 12


class SamplesPane(Static):
    BORDER_TITLE = "Samples"

    def __init__(self, **kwargs) -> None:
        super().__init__("[dim]waiting for the model…[/]", **kwargs)
        self.batches: deque[tuple[int, list[tuple[str, bool]]]] = deque(maxlen=MAX_BATCHES)

    def add(self, step: int, names: list[tuple[str, bool]]) -> None:
        self.batches.appendleft((step, names))
        self.update(self.render_batches())

    def clear(self) -> None:
        self.batches.clear()
        self.update("[dim]waiting for the model…[/]")

    def render_batches(self) -> Text:
        out = Text()
        for i, (step, names) in enumerate(self.batches):
            out.append(f"step {step:,}\n", style="bold" if i == 0 else "dim bold")
            for name, in_train in names:
                shown = name if len(name) <= 24 else name[:23] + "…"
                style = ("" if in_train else "green") if i == 0 else "dim"
                out.append(f" {shown:<24}", style=style)
                out.append(" in training set\n" if in_train else " new\n", style="dim")
        return out

    @property
    def names(self) -> list[str]:
        return [n for _, batch in self.batches for n, _ in batch]

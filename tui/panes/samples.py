"""Freshly sampled names, newest batch at the top, each marked new or already in the training set."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import Static

from tui.cells import pad_cells, truncate_cells

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
        """The batches, names padded and cut by display cells so the new/seen column lines up for wide names."""
        inner = max(12, self.size.width - 2) if self.size.width else 40
        wide = inner >= 40
        width = min(24, inner - (17 if wide else 6))
        out = Text()
        for i, (step, names) in enumerate(self.batches):
            out.append(f"step {step:,}\n", style="bold" if i == 0 else "dim bold")
            for name, in_train in names:
                shown = pad_cells(truncate_cells(name, width), width)  # in cells: the marks line up
                style = ("" if in_train else "green") if i == 0 else "dim"
                out.append(f" {shown}", style=style)
                mark = ("in training set" if wide else "seen") if in_train else "new"
                out.append(f" {mark}\n", style="dim")
        return out

    def on_resize(self) -> None:
        if self.batches:
            self.update(self.render_batches())

    @property
    def names(self) -> list[str]:
        return [n for _, batch in self.batches for n, _ in batch]

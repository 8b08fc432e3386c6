"""Split losses: train / dev / test over their whole splits, the best dev so far, the change."""

from __future__ import annotations

import math

from rich.table import Table
from textual.widgets import Static


def _fmt(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.4f}"


class SplitLosses(Static):
    BORDER_TITLE = "Split losses"

    def __init__(self, **kwargs) -> None:
        super().__init__("[dim]waiting for the first evaluation…[/]", **kwargs)
        self.history: list[tuple[int, dict[str, float], str]] = []  # (step, losses, train kind)
        self.best: tuple[float, int] = (math.inf, -1)

    def add(self, step: int, losses: dict[str, float], train_kind: str, best_dev: float, best_step: int) -> None:
        self.history.append((step, losses, train_kind))
        self.best = (best_dev, best_step)
        self.update(self.table())

    def clear(self) -> None:
        self.history, self.best = [], (math.inf, -1)
        self.update("[dim]waiting for the first evaluation…[/]")

    def table(self) -> Table:
        step, now, kind = self.history[-1]
        prev = self.history[-2][1] if len(self.history) > 1 else {}
        t = Table(box=None, pad_edge=False, expand=False, show_header=True, header_style="bold")
        t.add_column("split")
        t.add_column("loss", justify="right")
        t.add_column("Δ", justify="right")
        for split in ("train", "dev", "test"):
            v, p = now.get(split), prev.get(split)
            if v is not None and p is not None and math.isfinite(v) and math.isfinite(p):
                d = v - p
                delta = f"[{'green' if d < 0 else 'red'}]{d:+.3f}[/]"
            else:
                delta = ""
            label = "train*" if split == "train" and kind == "sample" else split
            t.add_row(label, _fmt(v), delta)
        best, best_step = self.best
        caption = f"at step {step:,}\n[b]best dev {_fmt(best)}[/]"
        if best_step >= 0:
            caption += f" @{best_step:,}"
        if kind == "sample":
            caption += "\n[dim]* on a fixed 20K-row sample[/]"
        t.caption = caption
        t.caption_justify = "left"
        return t

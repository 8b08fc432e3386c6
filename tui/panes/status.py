"""The status line: step / total, speed and the cores it trains on, learning rate, time, ETA and the run's status."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

from core.status import Status


def hms(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


STATUS_STYLE = {Status.RUNNING: "green", Status.PAUSED: "yellow", Status.DONE: "cyan", Status.DIVERGED: "red",
                Status.LOADING: "magenta"}


class StatusLine(Static):
    shown = ""  # the markup on screen
    rows = 0  # the lines it took at the width it had

    def show(self, snap: dict | None, status: str, wall: float) -> None:
        style = STATUS_STYLE.get(status, "white")
        if snap is None:
            self.put(f"[{style} b]{status}[/]")
            return
        step, total, sps = snap["step"], snap["total_steps"], snap["steps_per_second"]
        eta = (total - step) / sps if sps > 0 and status == Status.RUNNING else math.nan
        cores = snap.get("cores", 1)
        parts = [f"[{style} b]{status}[/]", f"step [b]{step:,}[/]/{total:,}",
                 f"{sps:,.0f}/s on {cores} core{'s' * (cores != 1)}", f"lr {snap['lr']:.3g}", hms(wall),
                 f"ETA {hms(eta)}"] + (["[dim]done: raise steps to go on[/]"] if status == Status.DONE else [])
        width = self.content_size.width
        if width and Text.from_markup(" │ ".join(parts)).cell_len > width:
            del parts[3]  # at 80 columns: the learning rate is in the form too, and the rest keeps to one line
        self.put(" │ ".join(parts))

    def put(self, markup: str) -> None:
        """Show `markup`, laying the screen out again only if its lines change: the line changes ten times a
        second, and a layout of the whole screen each time cost the UI process ~0.06 of a core."""
        if markup == self.shown:
            return
        width = self.content_size.width
        rows = len(Text.from_markup(markup).wrap(self.app.console, width)) if width else 0  # it wraps at 80 columns
        self.update(markup, layout=rows != self.rows or not width)
        self.shown, self.rows = markup, rows

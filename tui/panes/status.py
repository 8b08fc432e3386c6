"""The status line: step / total, speed, learning rate, time, ETA and state."""

from __future__ import annotations

import math

from textual.widgets import Static


def hms(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


STATE_STYLE = {"running": "green", "paused": "yellow", "done": "cyan", "diverged": "red", "loading": "magenta"}


class StatusLine(Static):
    def show(self, snap: dict | None, state: str, wall: float) -> None:
        style = STATE_STYLE.get(state, "white")
        if snap is None:
            self.update(f"[{style} b]{state}[/]")
            return
        step, total, sps = snap["step"], snap["total_steps"], snap["steps_per_second"]
        eta = (total - step) / sps if sps > 0 and state == "running" else math.nan
        self.update(
            f"[{style} b]{state}[/] │ step [b]{step:,}[/]/{total:,} │ {sps:,.0f}/s │ "
            f"lr {snap['lr']:.3g} │ {hms(wall)} │ ETA {hms(eta)}"
            + (" │ [dim]done: raise steps to go on[/]" if state == "done" else "")
        )

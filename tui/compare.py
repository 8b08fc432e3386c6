"""Compared runs: other runs' loss curves drawn over the live one (a mixin of MLPApp, tui/app.py). Runs of different
kinds of token are drawn in bits per character, each converted with its own characters per token (core.runs.overlay).
"""

from __future__ import annotations

from pathlib import Path

from textual import work

from tui.panes.plot import LossPlot
from tui.views.runs import MAX_OVERLAYS


class CompareRuns:
    """Up to MAX_OVERLAYS runs, path -> label in self.overlays; their loss files are read off the UI thread."""

    def compared_runs(self) -> list[str]:
        return list(self.overlays)

    def toggle_compare(self, path: str) -> bool | None:
        """Add a run's loss curve to the plot, or take it off; None if MAX_OVERLAYS are already shown."""
        if path in self.overlays:
            del self.overlays[path]
            self._draw_overlays()
            return False
        if len(self.overlays) >= MAX_OVERLAYS:
            return None
        self.overlays[path] = Path(path).name
        self._draw_overlays()
        return True

    def clear_compare(self) -> None:
        self.overlays.clear()
        self._draw_overlays()

    def _draw_overlays(self) -> None:
        """Read the compared runs' loss files in a thread (tens of MB for long runs), then plot them."""
        width = self.main_screen.query_one(LossPlot).dots_wide()
        self._read_overlays(dict(self.overlays), width)

    @work(thread=True, exclusive=True, group="overlays")
    def _read_overlays(self, overlays: dict[str, str], width: int) -> None:
        from core.runs.folder import RunError, downsample, read_info, read_losses
        from core.runs.overlay import run_scale

        curves, errors = [], {}
        for path, label in overlays.items():
            try:
                steps, vals = downsample(read_losses(path), width)
                scale = run_scale(read_info(path))
            except RunError as e:
                errors[path] = str(e)
                continue
            curves.append((label, steps, vals, scale))
        self.call_from_thread(self._show_overlays, curves, errors)

    def _show_overlays(self, curves: list, errors: dict[str, str]) -> None:
        """Plot what was read, on one scale (losses, or bits per character across kinds of token); an unreadable
        run leaves the comparison, so its error is told once, not on every later redraw."""
        from core.runs.overlay import plan, scale_of, shifted

        if self._quitting or not self.is_running:
            return
        info = getattr(self, "info", None)
        live = scale_of(info.get("text"), info.get("chars_per_token")) if info else None
        p = plan(live, {label: scale for label, _, _, scale in curves})
        plot = self.main_screen.query_one(LossPlot)
        plot.set_scale(p.unit, p.live)
        plot.set_overlays([(label, steps, shifted(vals, p.shifts[label])) for label, steps, vals, _ in curves
                           if p.shifts.get(label) is not None])
        if p.note and p.note != getattr(self, "overlay_note", ""):
            self.notify(p.note, title="compared runs", severity="warning", timeout=10)
        self.overlay_note = p.note
        for path, message in errors.items():
            self.overlays.pop(path, None)
            self.notify(message, severity="error")


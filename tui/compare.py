"""Compared runs: other runs' loss curves drawn over the live one (a mixin of MLPApp, tui/app.py)."""

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
        from core.runs.folder import RunError, downsample, read_losses

        curves, errors = [], {}
        for path, label in overlays.items():
            try:
                steps, vals = downsample(read_losses(path), width)
            except RunError as e:
                errors[path] = str(e)
                continue
            curves.append((label, steps, vals))
        self.call_from_thread(self._show_overlays, curves, errors)

    def _show_overlays(self, curves: list, errors: dict[str, str]) -> None:
        """Plot what was read; an unreadable run leaves the comparison, so its error is told once, not on
        every later redraw."""
        if self._quitting or not self.is_running:
            return
        self.main_screen.query_one(LossPlot).set_overlays(curves)
        for path, message in errors.items():
            self.overlays.pop(path, None)
            self.notify(message, severity="error")


"""The loss plot: log10 training loss against step, an EMA-smoothed line, dev points, the decay step, and on the
built-in names the course's dev-loss landmarks (core.milestones) as faint labelled guides.

An ensemble's line is its members' mean training loss (each on its own batch, with dropout), while its evaluations
are the ensemble's (averaged logits): the plot labels the line so and draws the evaluated train loss as points
beside dev, so that train and dev are compared on one footing. When compared runs have other kinds of token
(tui/compare.py, core.runs.overlay), every curve is in log10 bits per character instead, the milestones hidden.

The training process sends the curve already downsampled to about the plot's width in braille dots
(ARCHITECTURE.md, "Measured": 200K points take 1.8 s to draw, 2K points 20-35 ms), and the plot redraws only when new
data has arrived, at most a few times a second.
"""

from __future__ import annotations

import math
import time

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from core.milestones import Milestone

LAST_N = 20_000  # the "last N steps" window
OVERLAY_COLORS = ("magenta", "green", "yellow", "blue", "red")  # up to five other runs for comparison
GUIDE_COLOR = 103  # the milestones' lines and labels: a faint slate, apart from the gray raw curve
BUSY_REDRAW = 1.0  # seconds between timed redraws while the training process holds every core (tui.hosting)
FRAME_ROWS = 6  # rows of the pane that are not the plot's canvas: borders, the frame, x ticks, x label


def ema(values: list[float], alpha: float) -> list[float]:
    out, m = [], None
    for v in values:
        m = v if m is None else alpha * v + (1 - alpha) * m
        out.append(m)
    return out


def short_count(n: float) -> str:
    """12345 -> 12.3k, for axis labels."""
    n = float(n)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


class SafePlot(PlotextPlot):
    """A PlotextPlot whose build failures show in the pane instead of ending the app."""

    def render(self) -> RenderResult:
        try:
            return super().render()
        except Exception as e:  # plotext has edge cases (empty series, flat ranges); never a traceback
            return Text(f"(the plot could not be drawn: {type(e).__name__}; it redraws with the next data)",
                        style="dim")


class LossPlot(SafePlot):
    BORDER_TITLE = "Loss (log10)"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.steps: list[float] = []
        self.vals: list[float] = []
        self.dev: list[tuple[int, float]] = []
        self.train_evals: list[tuple[int, float]] = []  # the evaluated train losses, drawn for an ensemble
        self.members = 1  # an ensemble's (core.kernels.members): the line is its members' mean
        self.decay_at: int | None = None
        self.total: int | None = None
        self.smooth = True
        self.last_only = False
        self.dirty = True
        self.overlays: list[tuple[str, list[float], list[float]]] = []  # other runs: (label, steps, values)
        self.milestones: tuple[Milestone, ...] = ()  # the landmarks of the loaded data (none off the names)
        self.show_milestones = True  # the b key
        self.guides: list[tuple[float, str]] = []  # what the last redraw drew: (log10 loss, label), top down
        self.unit = "loss"  # or "bpc": runs of different kinds of token compared (core.runs.overlay)
        self.shift = (0.0, 0.0)  # what turns this run's log10 train and dev losses into the unit's
        self.every = 0.0  # seconds between the timer's redraws, at least: BUSY_REDRAW when the UI has no core
        self.drawn_at = -math.inf

    def dots_wide(self) -> int:
        """Points worth sending for a curve: braille draws two dots per column, less the y axis's columns."""
        return max(20, (self.size.width - 10) * 2)

    def set_curve(self, steps: list[float], vals: list[float]) -> None:
        self.steps, self.vals, self.dirty = steps, vals, True

    def set_overlays(self, overlays: list[tuple[str, list[float], list[float]]]) -> None:
        self.overlays, self.dirty = overlays, True

    def set_dev(self, dev: list[tuple[int, float]], train: list[tuple[int, float]] | None = None) -> None:
        """The evaluations' dev losses, and their train losses (drawn for an ensemble)."""
        self.dev, self.train_evals, self.dirty = dev, train or [], True

    def set_scale(self, unit: str, shift: tuple[float, float]) -> None:
        """Losses, or bits per character (`shift`: the live run's train and dev log10 shifts, core.runs.overlay)."""
        if (unit, shift) != (self.unit, self.shift):
            self.unit, self.shift, self.dirty = unit, shift, True

    def set_members(self, members: int) -> None:
        if members != self.members:
            self.members, self.dirty = members, True

    def set_marks(self, decay_at: int | None, total: int | None) -> None:
        if (decay_at, total) != (self.decay_at, self.total):
            self.decay_at, self.total, self.dirty = decay_at, total, True

    def set_milestones(self, milestones: tuple[Milestone, ...]) -> None:
        if milestones != self.milestones:
            self.milestones, self.dirty = milestones, True

    def toggle_milestones(self) -> None:
        self.show_milestones, self.dirty = not self.show_milestones, True

    def view_title(self) -> str:
        window = f"last {LAST_N:,} steps" if self.last_only else "all steps"
        what = "Bits per character (log10)" if self.unit == "bpc" else "Loss (log10)"
        return f"{what} · {window} · {'smoothed' if self.smooth else 'raw'}"

    def tick(self) -> None:
        """The app's timer: redraw if new data came, and `every` seconds have passed. A redraw at 160x48 costs the
        UI process ~25 ms; four a second took a tenth of a core from an ensemble training on every core."""
        if self.dirty and time.monotonic() - self.drawn_at >= self.every:
            self.redraw()

    def redraw(self) -> None:
        """Rebuild the plotext figure from the stored data (call from a timer, not per frame)."""
        if not self.dirty:
            return
        self.dirty, self.drawn_at = False, time.monotonic()
        self.border_title = self.view_title()
        self.guides = []
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("step")
        steps, vals = self.steps, self.vals
        if not steps:
            plt.title("waiting for the first steps…")
            self.refresh()
            return
        self.draw_curves(plt, steps, vals)
        self.refresh()

    def draw_curves(self, plt, steps: list[float], vals: list[float]) -> None:
        """The milestones first (the curves are drawn over them where they cross), then the overlays, the training
        curve, the dev points and the decay step."""
        lo_step = steps[0]
        vals = [v + self.shift[0] for v in vals] if self.shift[0] else vals
        longest = max((o[1][-1] for o in self.overlays if o[1]), default=0) if not self.last_only else 0
        last_dev = max((st for st, _ in self.dev), default=0)
        hi_step = max(steps[-1], longest, last_dev, lo_step + 1)
        series: list[tuple[list[float], list[float], dict]] = []  # (xs, ys, plot's keywords) in drawing order
        # Every labelled series must keep a point inside the x range: plotext's legend fails on one
        # whose points all fall outside (an IndexError that would take the app down).
        for (label, o_steps, o_vals), color in zip(self.overlays, OVERLAY_COLORS):
            pts = [(a, b) for a, b in zip(o_steps, o_vals) if lo_step <= a <= hi_step and math.isfinite(b)]
            if len(pts) > 1:
                ys = [b for _, b in pts]
                if self.smooth and len(ys) > 3:
                    ys = ema(ys, alpha=min(1.0, 8 / len(ys)))
                series.append(([a for a, _ in pts], ys, {"color": color, "label": label[:18]}))
        ens = self.members > 1
        line = "train: members' mean" if ens else "train"
        if self.smooth and len(vals) > 3:
            series.append((steps, vals, {"color": "gray"}))
            smoothed = ema(vals, alpha=min(1.0, 8 / len(vals)))
            series.append((steps, smoothed, {"color": "cyan", "label": f"{line} (EMA)"}))
        else:
            series.append((steps, vals, {"color": "cyan", "label": line}))
        dev = [(s, v + self.shift[1]) for s, v in self.points(self.dev, lo_step, hi_step)]
        evals = [(s, v + self.shift[0]) for s, v in self.points(self.train_evals, lo_step, hi_step)] if ens else []
        drawn = [y for _, ys, _ in series for y in ys if math.isfinite(y)] + [v for _, v in dev + evals]
        if self.show_milestones and drawn and self.unit == "loss":  # the y range the curves span (milestones: losses)
            self.draw_guides(plt, min(drawn), max(drawn), lo_step, hi_step)
        for xs, ys, kw in series:
            plt.plot(xs, ys, marker="braille", **kw)
        if evals:  # an ensemble's train loss as its dev loss is measured: the averaged logits
            plt.scatter([s for s, _ in evals], [v for _, v in evals], marker="dot", color="cyan+",
                        label="train: ensemble")
        if dev:
            plt.scatter([s for s, _ in dev], [v for _, v in dev], marker="dot", color="orange",
                        label="dev: ensemble" if ens else "dev")
        if self.decay_at and lo_step <= self.decay_at <= max(steps[-1], self.total or 0):
            plt.vline(self.decay_at, "red")
        plt.xlim(lo_step, hi_step)
        ticks = [lo_step + (hi_step - lo_step) * i / 4 for i in range(5)]
        plt.xticks(ticks, [short_count(t) for t in ticks])

    @staticmethod
    def points(losses: list[tuple[int, float]], lo_step: float, hi_step: float) -> list[tuple[int, float]]:
        """Evaluated losses inside the x range, as (step, log10 loss)."""
        return [(s, math.log10(v)) for s, v in losses if lo_step <= s <= hi_step and v > 0 and math.isfinite(v)]

    def draw_guides(self, plt, lo: float, hi: float, x0: float, x1: float) -> None:
        """The milestones inside [lo, hi] (they never widen the range), each a faint dotted line with its label at
        its left end, where a falling curve leaves room. Landmarks closer than a text row share a line and a label;
        labels name the lecture too when the plot is wide enough."""
        rows = max(1, self.size.height - FRAME_ROWS)
        row = (hi - lo) / rows if hi > lo else 0.0
        groups: list[tuple[float, list[Milestone]]] = []
        for m in sorted(self.milestones, key=lambda m: -m.dev):
            if not lo <= m.log10 <= hi:
                continue
            if groups and groups[-1][0] - m.log10 < row:
                groups[-1][1].append(m)
            else:
                groups.append((m.log10, [m]))
        room = self.size.width - 12  # the canvas's columns, less the y axis
        for y, members in groups:
            label = " · ".join(m.label(wide=True) for m in members)
            if len(label) > room // 2:
                label = " · ".join(m.label(wide=False) for m in members)
            plt.plot([x0, x1], [y, y], marker="braille", color=GUIDE_COLOR)
            plt.text(f" {label} ", x0, y, color=GUIDE_COLOR, alignment="left")
            self.guides.append((y, label))

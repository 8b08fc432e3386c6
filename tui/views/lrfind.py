"""The learning-rate finder (makemore part 2): one SGD step at each of 1,000 rising learning rates (fewer for a
model whose step is costly, such as a word model: core.probes.inspection.lr_find_steps).

It runs in the training process on a fresh model of the same architecture (as the lecture did) or on
a copy of the current weights; the model that trains is never touched.
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.binding import Binding

from core.link import protocol as P
from tui.panes.plot import SafePlot
from tui.views import ViewScreen


class LRFindView(ViewScreen):
    view_id = "lr_find"
    TITLE = "Learning-rate finder"
    HINT = "one SGD step at each lr · a: apply · f: fresh model · c: current weights · esc: back"
    BINDINGS = [*ViewScreen.BINDINGS, Binding("a", "apply", "apply lr"), Binding("l", "apply_low", "half the lowest"),
                Binding("f", "rerun(True)", "fresh model"), Binding("c", "rerun(False)", "current weights")]

    def __init__(self) -> None:
        super().__init__()
        self.suggestion: float | None = None
        self.min_lr: float | None = None

    def compose_body(self) -> ComposeResult:
        yield SafePlot(id="lr-plot")

    def on_mount(self) -> None:
        self.set_status("running the sweep…")

    def show(self, step: int, lrs: list, losses: list, smoothed: list, suggestion: float, seconds: float,
             optimizer: str, fresh: bool = True, **_) -> None:
        self.suggestion = suggestion
        plot = self.query_one(SafePlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        x = [math.log10(v) for v in lrs]
        i_min = min(range(len(smoothed)), key=smoothed.__getitem__)
        lo, hi = smoothed[i_min], max(smoothed[: max(1, len(smoothed) // 20)])
        top = hi + 0.1 * (hi - lo)  # the blow-up at the end would squash the interesting part
        raw = [(a, min(b, top)) for a, b in zip(x, losses) if math.isfinite(b)]
        plt.scatter([a for a, _ in raw], [b for _, b in raw], marker="dot", color="gray")
        plt.plot(x, [min(v, top) for v in smoothed], marker="braille", color="cyan", label="smoothed")
        plt.vline(math.log10(suggestion), "orange")
        plt.xlabel("log10(learning rate)")
        if top > lo:
            plt.ylim(max(0.0, lo - 0.05 * (hi - lo)), top)
        plt.title(f"steepest fall at lr {suggestion:.3g} · lowest loss at lr {lrs[i_min]:.3g}")
        plot.refresh()
        self.min_lr = lrs[i_min]
        source = "a fresh model (new weights, this architecture)" if fresh else f"the weights at step {step:,}"
        note = " · the sweep uses SGD; AdamW wants ~100x smaller rates" if optimizer == "adamw" else ""
        end = "" if lrs[-1] >= 0.999 else f" to lr {lrs[-1]:.3g} (diverged)"  # core.probes.inspection.DIVERGED
        self.set_status(f"from {source} · {len(lrs):,} steps{end} in {seconds:.2f} s · [b]suggested lr "
                        f"{suggestion:.3g}[/] (steepest fall): [b]a[/] applies it; [b]l[/] applies "
                        f"{self.min_lr / 2:.3g}, half the lowest-loss lr (the lecture's way to 0.1){note}")

    def action_apply(self) -> None:
        if self.suggestion is None:
            self.notify("no suggestion yet", severity="warning")
            return
        self.app.apply_lr(float(f"{self.suggestion:.3g}"))

    def action_apply_low(self) -> None:
        if self.min_lr is None:
            self.notify("no sweep yet", severity="warning")
            return
        self.app.apply_lr(float(f"{self.min_lr / 2:.3g}"))

    def action_rerun(self, fresh: bool) -> None:
        self.set_status("running the sweep…")
        self.app.send(P.FindLR(fresh))

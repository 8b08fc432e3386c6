"""Network health (makemore part 3): saturated tanh units, the activation histogram, dead units, and
per-parameter gradient and update sizes against the data, log10, with the lecture's ~ -3 guide.

Measured on a fixed batch of training rows, on a copy of the model, about once a second.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.config import SATURATED
from tui.views import ViewScreen

BLOCKS = " ▁▂▃▄▅▆▇█"
GUIDE = -3.0  # update / data ~ 1e-3: the lecture's rule of thumb for a healthy learning rate


def histogram(counts: list[int], rows: int, width: int) -> list[str]:
    """Columns of block characters, `rows` high, one column per bin stretched to about `width`."""
    if not counts:
        return []
    per = max(1, width // len(counts))
    top = max(counts) or 1
    lines = []
    for r in range(rows - 1, -1, -1):
        line = ""
        for c in counts:
            level = c / top * rows - r  # how much of this row the bar fills
            ch = BLOCKS[max(0, min(8, round(level * 8)))]
            line += ch * per
        lines.append(line)
    return lines


def ratio_bar(v: float, lo: float = -6.0, hi: float = 0.0, width: int = 25) -> Text:
    """A one-line scale from 10^lo to 10^hi with the -3 guide '|' and the value '●'."""
    cells = ["─"] * width
    g = round((GUIDE - lo) / (hi - lo) * (width - 1))
    cells[g] = "┼"
    t = Text()
    pos = None if not math.isfinite(v) else round((min(max(v, lo), hi) - lo) / (hi - lo) * (width - 1))
    for i, ch in enumerate(cells):
        if i == pos:
            t.append("●", style="bold green" if abs(v - GUIDE) <= 0.75 else "bold yellow")
        else:
            t.append(ch, style="dim")
    return t


def _sat_style(share: float) -> str:
    return "red" if share > 0.1 else ("yellow" if share > 0.03 else "green")


def render_health(step: int, saturated: float, dead: int, n_hidden: int, hist_counts: list, grad_ratio: dict,
                  update_ratio: dict, loss: float, optimizer: str, width: int, per_layer: list | None = None) -> Text:
    out = Text()
    out.append(f"step {step:,} · batch loss {loss:.4f}\n", style="bold")
    deep = per_layer is not None and len(per_layer) > 1
    if deep:  # part 3's per-layer statistics, one row per hidden layer
        out.append(f"\n {'layer':<6} {'mean':>7} {'std':>6} {'saturated':>10} {'dead':>9}\n", style="dim")
        for index, mean, std, share, dead_i, units in per_layer:
            out.append(f" {index:<6} {mean:7.3f} {std:6.3f} ")
            out.append(f"{share:10.1%}", style=f"bold {_sat_style(share)}")
            out.append(f" {dead_i:>4} of {units}\n", style="bold red" if dead_i else "")
        out.append("\n")
    out.append(f"saturated tanh (|h| > {SATURATED:.2f}){' in the last layer' if deep else ''}: ")
    out.append(f"{saturated:.1%}", style=f"bold {_sat_style(saturated)}")
    out.append(" · dead units (saturated on every row): ")
    out.append(f"{dead} of {n_hidden}\n\n", style="bold red" if dead else "bold green")
    out.append("last hidden layer's activations, -1 to 1\n" if deep else "hidden activations, -1 to 1\n",
               style="dim")
    for line in histogram(hist_counts, rows=5, width=min(60, max(20, width - 4))):
        out.append(" " + line + "\n", style="cyan")
    bar_w = max(10, min(25, width - 42))
    out.append(f"\n {'param':<7} {'grad/data':>9} {'update/data':>11}  10^-6 … 10^0, guide 10^-3\n", style="dim")
    for name, g in grad_ratio.items():
        u = update_ratio.get(name, math.nan)
        out.append(f" {name[:7]:<7} {g:9.2f} {u:11.2f}  ")
        out.append_text(ratio_bar(u, width=bar_w))
        out.append("\n")
    what = "lr x m/(sqrt(v)+eps) of AdamW" if optimizer == "adamw" else "lr x grad"
    out.append(f"\nupdate = {what}; log10 of std(update) / std(weights)\n", style="dim")
    return out


class HealthView(ViewScreen):
    view_id = "health"
    TITLE = "Network health"
    HINT = "are the tanh units alive, is the lr the right size? · esc: back"

    def compose_body(self) -> ComposeResult:
        yield Static("[dim]waiting for the model…[/]", id="health-out")

    def show(self, **payload) -> None:
        keep = ("step", "saturated", "dead", "n_hidden", "hist_counts", "grad_ratio", "update_ratio", "loss",
                "optimizer", "per_layer")
        self.last = {k: payload.get(k) for k in keep}
        self.query_one("#health-out", Static).update(render_health(**self.last, width=self.size.width))
        self.set_status("measured on 512 fixed training rows, on a copy of the model, about once a second")

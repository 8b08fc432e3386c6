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


def render_members(members: list, width: int) -> Text:
    """What an ensemble's report reads (its members, not the merged W1 with its zero blocks), and each member's
    batch loss, saturation and dead units, a column per member (as many as fit)."""
    out = Text()
    K = len(members)
    full = f"reads the {K} members, each as the model it trains (its weights, loss, moments); figures: their mean"
    out.append((full if len(full) <= width - 2 else f"reads the {K} members, each as it trains; figures: their mean")
               + "\n", style="dim")
    shown = members[:max(1, (width - 14) // 9)]
    more = f"  +{K - len(shown)} more" if len(shown) < K else ""
    out.append(f" {'member':<11}" + "".join(f"{m[0]:>9}" for m in shown) + more + "\n", style="dim")
    out.append(f" {'batch loss':<11}" + "".join(f"{m[1]:9.4f}" for m in shown) + "\n")
    out.append(f" {'saturated':<11}")
    for m in shown:
        out.append(f"{m[2]:9.1%}", style=_sat_style(m[2]))
    out.append(f"\n {'dead':<11}" + "".join(f"{f'{m[3]}/{m[4]}':>9}" for m in shown) + "\n")
    return out


def render_health(step: int, saturated: float, dead: int, n_hidden: int, hist_counts: list, grad_ratio: dict,
                  update_ratio: dict, loss: float, optimizer: str, width: int, per_layer: list | None = None,
                  members: list | None = None, hist_rows: int = 5, tight: bool = False) -> Text:
    """The report; `tight` (a short terminal) drops the blank lines and says the long lines shorter."""
    out, gap = Text(), "" if tight else "\n"
    of_members = " (the members' mean)" if members else ""
    out.append(f"step {step:,} · batch loss {loss:.4f}{of_members}\n", style="bold")
    if members:  # an ensemble (core.probes.ensemble): say what is read
        out.append_text(render_members(members, width))
    deep = per_layer is not None and len(per_layer) > 1
    if deep:  # part 3's per-layer statistics, one row per hidden layer
        out.append(f"{gap} {'layer':<6} {'mean':>7} {'std':>6} {'saturated':>10} {'dead':>9}\n", style="dim")
        for index, mean, std, share, dead_i, units in per_layer:
            out.append(f" {index:<6} {mean:7.3f} {std:6.3f} ")
            out.append(f"{share:10.1%}", style=f"bold {_sat_style(share)}")
            out.append(f" {dead_i:>4} of {units}\n", style="bold red" if dead_i else "")
        out.append(gap)
    out.append(f"saturated tanh (|h| > {SATURATED:.2f}){' in the last layer' if deep else ''}: ")
    out.append(f"{saturated:.1%}", style=f"bold {_sat_style(saturated)}")
    out.append(" · dead units (every row): " if tight else " · dead units (saturated on every row): ")
    out.append(f"{dead} of {n_hidden}\n{gap}", style="bold red" if dead else "bold green")
    acts = "last hidden layer's activations" if deep else ("all members' hidden activations" if members else
                                                           "hidden activations")
    out.append(f"{acts}, -1 to 1\n", style="dim")
    for line in histogram(hist_counts, rows=hist_rows, width=min(60, max(20, width - 4))):
        out.append(" " + line + "\n", style="cyan")
    bar_w = max(10, min(25, width - 42))
    out.append(f"{gap} {'param':<7} {'grad/data':>9} {'update/data':>11}  10^-6 … 10^0, guide 10^-3\n", style="dim")
    for name, g in grad_ratio.items():
        u = update_ratio.get(name, math.nan)
        out.append(f" {name[:7]:<7} {g:9.2f} {u:11.2f}  ")
        out.append_text(ratio_bar(u, width=bar_w))
        out.append("\n")
    what = "lr x m/(sqrt(v)+eps) of AdamW" if optimizer == "adamw" else "lr x grad"
    if tight:
        out.append(f"update = {what}; log10 std(update)/std(weights)\n", style="dim")
    else:
        own = "; each member's own, their mean" if members else ""
        out.append(f"\nupdate = {what}; log10 of std(update) / std(weights){own}\n", style="dim")
    return out


class HealthView(ViewScreen):
    view_id = "health"
    TITLE = "Network health"
    HINT = "are the tanh units alive, is the lr the right size? · esc: back"

    def compose_body(self) -> ComposeResult:
        yield Static("[dim]waiting for the model…[/]", id="health-out")

    def show(self, **payload) -> None:
        keep = ("step", "saturated", "dead", "n_hidden", "hist_counts", "grad_ratio", "update_ratio", "loss",
                "optimizer", "per_layer", "members")
        self.last = {k: payload.get(k) for k in keep}
        out = self.query_one("#health-out", Static)
        width, height = out.content_size.width or self.size.width - 4, out.content_size.height or 99
        for rows, tight in ((5, False), (3, True), (2, True), (1, True)):  # the first that fits whole
            text = render_health(**self.last, width=width, hist_rows=rows, tight=tight)
            text.rstrip()  # no empty last line to count
            if len(text.wrap(self.app.console, max(1, width))) <= height:
                break
        out.update(text)
        members = self.last["members"]
        copy = f"on copies of its {len(members)} members" if members else "on a copy of the model"
        self.set_status(f"measured on 512 fixed training rows, {copy}, about once a second")

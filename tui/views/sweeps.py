"""The sweeps view: the studies in the sweep storage, and for one study its leaderboard, the best dev loss
so far, and the parameters' importances, refreshed every few seconds while a sweep runs elsewhere.

`a` puts the best trial's settings into the controls (then `r` trains them); `c` draws the top trials'
loss curves over the plot. The storage is read in a thread (Optuna and SQL take a moment), never on
the UI thread, and torch stays out of this process.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from core.runs.files import safe_text
from core.runs.listing import perplexity_text
from core.sweeps.storage import hide_password, shown
from core.sweeps.trials import counts_text
from tui.views import ViewScreen

REFRESH = 3.0  # seconds between reads of the storage
OVERLAY_TOP = 5


def render_importances(importances: dict[str, float], note: str, width: int) -> Text:
    out = Text("parameter importances (fANOVA)\n", style="bold")
    if not importances:
        out.append(f"not yet: {note or 'too few complete trials'}", style="dim")
        return out
    bar = max(5, width - 22)
    for name, v in importances.items():
        out.append(f"{name[:12]:<12} {v:5.2f} ")
        out.append("█" * max(0, round(v * bar)), style="cyan")
        out.append("\n")
    return out


class SweepsView(ViewScreen):
    view_id = "sweeps"
    TITLE = "Sweeps"
    HINT = "enter: open a study · a: apply the best trial's settings · c: overlay the top trials · esc: back"
    BINDINGS = [*ViewScreen.BINDINGS, Binding("a", "apply_best", "apply best"),
                Binding("c", "overlay", "overlay top")]

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.study: str | None = None
        self.summaries: list[dict[str, Any]] = []
        self.detail: dict[str, Any] | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="sweeps-body"):
            with Vertical(id="sweeps-left"):
                yield DataTable(id="studies", cursor_type="row", zebra_stripes=True)
                yield Static("", id="sweeps-importances")
            with Vertical(id="sweeps-right"):
                yield DataTable(id="board", cursor_type="row", zebra_stripes=True)
                yield PlotextPlot(id="sweeps-plot")

    def on_mount(self) -> None:
        self.query_one("#studies", DataTable).add_columns("study", "trials", "best dev", "started")
        self.query_one("#board", DataTable).add_columns("trial", "dev", "dev ppl", "test", "steps", "settings")
        self.query_one("#studies", DataTable).focus()
        self.set_status(f"reading {shown(self.url)}…")
        self.read()
        self.set_interval(REFRESH, self.read)

    # ---- reading, in a thread ----
    def read(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="sweeps")
    def _read(self) -> None:
        from core.errors import MLPTuiError
        from core.sweeps.summary import detail, studies

        try:
            found = studies(self.url)
            more = detail(self.study, self.url) if self.study else None
        except Exception as e:  # noqa: BLE001 - a storage Optuna cannot open (a bad URL, a server away, damaged)
            text = str(e) if isinstance(e, (MLPTuiError, OSError)) else \
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            self.app.call_from_thread(self.set_status, Text(f"cannot read the sweeps: "
                                                            f"{safe_text(hide_password(text, self.url))}", style="red"))
            return
        self.app.call_from_thread(self.show_data, found, more)

    def show_data(self, found: list[dict[str, Any]], more: dict[str, Any] | None) -> None:
        if not self.is_attached:
            return
        self.summaries = found
        table = self.query_one("#studies", DataTable)
        row = table.cursor_row
        table.clear()
        for s in found:
            best = f"{s['best']:.4f}" if s["best"] is not None else "-"
            table.add_row(safe_text(s["name"]), str(s["trials"]), best, s["started"], key=s["name"])
        if found:
            table.move_cursor(row=min(max(row, 0), len(found) - 1))
        if not found:
            self.set_status(f"no studies in {shown(self.url)}; start one with mlp-tui sweep --study NAME …")
            return
        if self.study is None:
            self.set_status(f"{len(found)} stud{'ies' if len(found) != 1 else 'y'} in {shown(self.url)}; "
                            f"enter opens one")
        if more is not None:
            self.show_detail(more)

    def show_detail(self, d: dict[str, Any]) -> None:
        self.detail = d
        board = self.query_one("#board", DataTable)
        what = d.get("objective", "dev")  # "dev bpc" on running text (core.sweeps.objective)
        if getattr(self, "board_label", "dev") != what:  # the columns say what the values are
            self.board_label = what
            board.clear(columns=True)
            board.add_columns("trial", what, "dev ppl", what.replace("dev", "test"), "steps", "settings")
        board.clear()
        for t in d["leaderboard"]:
            test = t["test"]
            board.add_row(str(t["number"]), f"{t['dev']:.4f}", perplexity_text(t.get("perplexity", math.nan)),
                          f"{test:.4f}" if isinstance(test, (int, float)) and math.isfinite(test) else "-",
                          f"{t['steps']:,}", " ".join(f"{k}={_fmt(v)}" for k, v in t["params"].items()))
        c = d["counts"]
        self.set_status(f"study {safe_text(d['name'])}: {counts_text(c)}"
                        + (f" · best {what} {d['leaderboard'][0]['dev']:.4f}, trial {d['leaderboard'][0]['number']}"
                           if d["leaderboard"] else ""))
        imp = self.query_one("#sweeps-importances", Static)
        imp.update(render_importances(d["importances"], d["importances_note"], max(30, imp.size.width)))
        plot = self.query_one("#sweeps-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if d["history"]:
            xs, ys = zip(*d["history"])
            plt.plot(list(xs), list(ys), marker="braille", color="cyan", label=f"best {what} so far")
            plt.xlabel("trial")
        plt.title(f"best {'dev bits per character' if what == 'dev bpc' else 'dev loss'} so far")
        plot.refresh()

    # ---- keys ----
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "studies" and event.row_key.value is not None:
            self.study = str(event.row_key.value)
            self.set_status(f"reading study {safe_text(self.study)}…")
            self.read()

    def action_apply_best(self) -> None:
        if not self.detail or not self.detail.get("best_values"):
            self.notify("open a study with a complete trial first (enter)", severity="warning")
            return
        self.app.apply_settings(self.detail["best_values"], f"trial {self.detail['leaderboard'][0]['number']} "
                                                            f"of {self.detail['name']}")

    def action_overlay(self) -> None:
        if not self.detail or not self.detail["leaderboard"]:
            self.notify("open a study with a complete trial first (enter)", severity="warning")
            return
        self.app.clear_compare()
        shown = 0
        for t in self.detail["leaderboard"][:OVERLAY_TOP]:
            if t["run"] and self.app.toggle_compare(t["run"]):
                shown += 1
        self.notify(f"the top {shown} trials' loss curves are on the plot", timeout=4)


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)

"""The runs view: past runs from the runs folder; continue one, or overlay up to five loss curves.

Reads run.json and losses.f32 directly (no torch in the UI process); loading a run is done by the
training process, which continues it in its own run directory.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from core.runs.files import safe_text
from core.runs.folder import RunError, locked_message
from core.runs.listing import RunSummary, list_runs, perplexity_text
from core.status import Status
from tui.views import ViewScreen

MAX_OVERLAYS = 5
# a finished run's status in the list (a run trained now shows "live" instead)
RUN_STATUS_STYLE = {Status.DONE: "cyan", Status.DIVERGED: "red", Status.INTERRUPTED: "yellow"}


def status_cell(r: RunSummary, current: str | None) -> Text:
    """"live 1234" for a run another process trains now, else its last status."""
    if r.live and str(r.path) != current:
        return Text(f"live {r.pid}" if r.pid else "live", style="bold green")
    if str(r.path) == current:
        return Text("this one", style="bold")
    return Text(r.status_text, style=RUN_STATUS_STYLE.get(r.status, ""))


class RunsView(ViewScreen):
    view_id = "runs"
    TITLE = "Runs"
    HINT = "enter: continue a run · c: compare its loss curve (up to 5) · x: clear · esc: back"
    BINDINGS = [*ViewScreen.BINDINGS, Binding("enter", "continue_run", "continue", show=False),
                Binding("c", "compare", "compare"), Binding("x", "clear", "clear comparison")]

    def __init__(self, root: Path, current: str | None) -> None:
        super().__init__()
        self.root = root
        self.current = current
        self.runs: list[RunSummary] = []

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # the numbers first: at 80 columns the later ones scroll off to the right
        table.add_columns(" ", "run", "best dev", "dev ppl", "bpc", "steps", "status", "params", "architecture",
                          "dataset", "date")
        self.refresh_runs()
        table.focus()

    def refresh_runs(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        try:
            self.runs = list_runs(self.root)
        except RunError as e:
            self.runs = []
            self.set_status(Text(str(e)))
            return
        compared = set(self.app.compared_runs())
        for r in self.runs:  # cells as Text: a folder named "[red]x" is a name, not markup
            mark = "▶" if str(r.path) == self.current else ("●" if str(r.path) in compared else " ")
            name = Text(safe_text(r.path.name, 40))
            if r.error:
                table.add_row(mark, name, "-", "", "", "", Text("damaged", style="red"),
                              Text(safe_text(r.error.split(": ", 1)[-1], 60)), "", "", "", key=str(r.path))
                continue
            dev = f"{r.best_dev:.4f}" if math.isfinite(r.best_dev) else "-"
            bpc = f"{r.bpc:.3f}" if math.isfinite(r.bpc) else "-"
            table.add_row(mark, name, dev, perplexity_text(r.perplexity), bpc, f"{r.step:,}",
                          status_cell(r, self.current), f"{r.params:,}", r.arch,
                          Text(safe_text(r.dataset, 30)), r.created.replace("T", " ")[:16], key=str(r.path))
        n = len(self.runs)
        root = safe_text(self.root)
        self.set_status(Text(f"{n} run{'s' if n != 1 else ''} in {root} · ▶ the current run · ● compared · live: "
                             f"being trained now" if n else f"no runs in {root} yet"))

    def selected(self) -> RunSummary | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row is None or not 0 <= table.cursor_row < len(self.runs):
            return None
        return self.runs[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_continue_run()

    def action_continue_run(self) -> None:
        r = self.selected()
        if r is None:
            return
        if r.error:
            self.notify(r.error, title="cannot load", severity="error")
            return
        if str(r.path) == self.current:
            self.notify("this is the run that is training now")
            return
        if r.live:  # another process trains it: two writers would corrupt it (comparing its curve is fine)
            self.notify(locked_message(r.path, r.pid), title="cannot continue", severity="warning")
            return
        self.app.load_run(str(r.path))
        self.dismiss(None)

    def action_compare(self) -> None:
        r = self.selected()
        if r is None or r.error:
            return
        added = self.app.toggle_compare(str(r.path))
        if added is None:
            self.notify(f"at most {MAX_OVERLAYS} runs at once; x clears them", severity="warning")
        row = self.query_one(DataTable).cursor_row
        self.refresh_runs()
        self.query_one(DataTable).move_cursor(row=row)

    def action_clear(self) -> None:
        self.app.clear_compare()
        self.refresh_runs()

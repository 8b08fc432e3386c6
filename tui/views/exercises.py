"""The exercises view: the lecture's exercises and part 3's puzzle, each with how to do it here and a tick
that sets itself from the runs on disk (core.probes.exercises), read in a thread when the view opens and then
every few seconds."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from core.runs.files import safe_text
from tui.views import ViewScreen

REFRESH = 5.0


def render_exercises(rows: list) -> Table:
    t = Table(box=None, expand=True, show_header=True, header_style="bold", pad_edge=False)
    t.add_column("", width=2)
    t.add_column("exercise", ratio=3)
    t.add_column("here", ratio=2, style="cyan")
    t.add_column("from the runs", ratio=3, style="dim")
    for e in rows:
        tick = Text("✓", style="bold green") if e.done else Text("·", style="dim")
        t.add_row(tick, Text(f"{e.key}  {e.text}"), Text(e.how), Text(safe_text(e.evidence)))
    return t


class ExercisesView(ViewScreen):
    view_id = "exercises"
    TITLE = "Exercises"
    HINT = "the lecture's exercises, ticked from your runs on the built-in names · esc: back"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.rows: list = []

    def compose_body(self) -> ComposeResult:
        yield Static("[dim]reading the runs…[/]", id="exercises-out")

    def on_mount(self) -> None:
        self.read()
        self.set_interval(REFRESH, self.read)

    def read(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="exercises")
    def _read(self) -> None:
        from core.probes.exercises import check

        rows = check(self.root)
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list) -> None:
        if not self.is_attached:
            return
        self.rows = rows
        self.query_one("#exercises-out", Static).update(render_exercises(rows))
        done = sum(e.done for e in rows)
        self.set_status(f"{done} of {len(rows)} done, from the runs on the built-in names in {safe_text(self.root)}")

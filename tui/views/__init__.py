"""The base of the inspection views: a full screen over the training app, escape to go back.

Training keeps running underneath (space still pauses it); the view shows what the training process
sends for it, and asks for it again while it is open.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.screens import DismissOnce


class ViewScreen(DismissOnce, Screen[None]):
    """One inspection view; `view_id` names it, and the data it shows (what the training process sends)."""

    view_id = ""
    TITLE = ""
    HINT = ""
    BINDINGS = [Binding("escape", "close", "back")]

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{self.TITLE}[/]  [dim]{self.HINT}[/]", classes="view-title")
        yield from self.compose_body()
        yield Static("", classes="view-status")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def set_status(self, text: object) -> None:
        self.query_one(".view-status", Static).update(text)

    def show(self, **payload) -> None:
        """New data from the training process."""

    def action_close(self) -> None:
        self.dismiss(None)

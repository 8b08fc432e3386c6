"""Panes read as plain text without an app, shared by both tiers: a samples pane as if laid out a given width,
and a Text's rows."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size

from tui.panes.samples import SamplesPane


class SizedSamples(SamplesPane):
    """A samples pane as if laid out `cols` cells wide (and 30 rows high), with no app to lay it out."""

    def __init__(self, cols: int) -> None:
        super().__init__()
        self.cols = cols

    @property
    def size(self) -> Size:
        return Size(self.cols, 30)


def rows(text: Text) -> list[str]:
    """The plain rows of a rendered Text."""
    return text.plain.split("\n")

"""The embedding map: every character drawn where its embedding puts it (makemore part 2's plot).

With 2-dim embeddings the axes are the two dimensions themselves; otherwise the top two principal
components, with the share of the variance they hold. Vowels are coloured: after training they sit
together, which is the lesson's point.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.config import VOWELS
from core.tokens import SPACE_MARK
from tui.cells import REPLACEMENT, visible
from tui.views import ViewScreen
from tui.views.embeddings_words import word_grid
from tui.views.mapgrid import blank_grid, grid_rows, scaler

NEAR = sorted(((dr, dc) for dr in range(-4, 5) for dc in range(-12, 13)),
              key=lambda d: (abs(d[0]) * 4 + abs(d[1]), abs(d[0]), -d[1] if d[1] < 0 else d[1]))


def place(
    points: list[tuple[float, float]], width: int, height: int, widths: list[int] | None = None
) -> tuple[dict[tuple[int, int], int], tuple[int, int] | None]:
    """Grid cell (col, row) of each point index, scaled to fill width x height (collisions move aside),
    and the cell of the origin (None if it falls outside).

    widths[i] is how many cells point i's character takes (2 for CJK and emoji): it gets its cell and the
    ones after it, so a wide character at the right edge or next to another point moves aside like a collision.
    """
    if not points or width < 1 or height < 1:
        return {}, None
    cell, origin = scaler(points, width, height)
    cells: dict[tuple[int, int], int] = {}
    taken: set[tuple[int, int]] = set()
    for i, (x, y) in enumerate(points):
        col, row = cell(x, y)
        n = max(1, widths[i]) if widths else 1
        # the nearest free cells: this row first, a few columns either side, then the rows above and below,
        # so a crowded cluster (early in training most points sit together) still shows every character
        for dr, dc in NEAR:
            c, r = col + dc, row + dr
            span = [(c + k, r) for k in range(n)]
            if 0 <= c and c + n <= width and 0 <= r < height and not taken.intersection(span):
                cells[(c, r)] = i
                taken.update(span)
                break
    return cells, origin


def glyph(char: str) -> str:
    """What the map draws for a character: itself, or a visible stand-in if it takes no cells or more than two."""
    shown = visible(char)
    return shown if 1 <= cell_len(shown) <= 2 else REPLACEMENT


def grid_text(chars: str, points: list[tuple[float, float]], width: int, height: int) -> Text:
    """The map as `height` rows of exactly `width` cells, the character for points[i] being chars[i].

    Measured in cells, not characters: a wide character covers its cell and the next, so no row is too wide
    and wraps, and a zero-width one is drawn visibly instead of vanishing into its neighbour.
    """
    glyphs = [glyph(chars[i]) for i in range(len(points))]
    cells, origin = place(points, width, height, [cell_len(g) for g in glyphs])
    grid = blank_grid(width, height, origin)
    for (c, r), i in cells.items():
        ch, g = chars[i], glyphs[i]
        grid[r][c] = (g, "bold #ffaf00" if ch in VOWELS else ("bold magenta" if i == 0 else "bold cyan"))
        for k in range(1, cell_len(g)):
            grid[r][c + k] = None  # under the right half of a wide character
    return grid_rows(grid)


class EmbeddingCanvas(Static):
    """The characters (or a word model's frequent words) on a grid the size of the widget."""

    def __init__(self, **kwargs) -> None:
        super().__init__("[dim]waiting for the model…[/]", **kwargs)
        self.chars = ""
        self.labels: list[str] = []
        self.points: list[tuple[float, float]] = []
        self.drawn = 0  # labels the last grid drew (a word model's)

    def set_points(self, chars: str, points: list[tuple[float, float]], labels: list[str] | None = None) -> None:
        self.chars, self.points, self.labels = chars, points, list(labels or [])
        self.refresh()

    def render_grid(self) -> Text:
        width, height = max(10, self.size.width), max(4, self.size.height)
        if self.labels:
            text, self.drawn = word_grid(self.labels, self.points, width, height)
            return text
        return grid_text(self.chars, self.points, width, height)

    def render(self) -> Any:
        """The grid for the size the widget has now: a status line that wraps (and shrinks the canvas by a row)
        must not cut off the bottom row of characters."""
        return self.render_grid() if self.points else super().render()


class EmbeddingsView(ViewScreen):
    view_id = "embeddings"
    TITLE = "Embedding map"
    HINT = "each character where its embedding puts it · vowels orange, '.' magenta · esc: back"
    WORD_HINT = "the most frequent words where their embeddings put them · </s> <unk> magenta · esc: back"
    BPE_HINT = f"the most frequent BPE tokens where their embeddings put them · {SPACE_MARK} a space · esc: back"

    def on_mount(self) -> None:
        info = getattr(self.app, "info", None) or {}
        if (info.get("text") or {}).get("tokens", "chars") != "chars":  # a word model: say so before the map comes
            self.set_words_title()

    def set_words_title(self) -> None:
        bpe = ((getattr(self.app, "info", None) or {}).get("text") or {}).get("tokens") == "bpe"
        hint = self.BPE_HINT if bpe else self.WORD_HINT
        self.query_one(".view-title", Static).update(f"[b]{self.TITLE}[/]  [dim]{hint}[/]")

    def show(self, step: int, chars: str, points: list, explained: float, axes: str, labels: list | None = None,
             vocab_size: int = 0, **_) -> None:
        canvas = self.query_one(EmbeddingCanvas)
        if labels:
            self.set_words_title()
        canvas.set_points(chars, [tuple(p) for p in points], labels)
        if axes == "dims":
            what = "the two embedding dimensions"
        else:
            what = f"top two principal components: {explained:.0%} of the variance"
        if labels:  # a word model: the principal components are those of the words sent, the most frequent
            what = (f"the {len(labels):,} most frequent of {vocab_size:,} tokens in train, as many as fit · "
                    + ("the two embedding dimensions" if axes == "dims" else f"PCA: {explained:.0%} of their variance"))
        self.set_status(f"step {step:,} · {what} · updates twice a second while training")

    def compose_body(self) -> ComposeResult:
        yield EmbeddingCanvas(id="emb-canvas")

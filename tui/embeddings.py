"""The embedding map: every character drawn where its embedding puts it (makemore part 2's plot).

With 2-dim embeddings the axes are the two dimensions themselves; otherwise the top two principal
components, with the share of the variance they hold. Vowels are coloured: after training they sit
together, which is the lesson's point.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.config import VOWELS
from tui.views import ViewScreen


def place(
    points: list[tuple[float, float]], width: int, height: int
) -> tuple[dict[tuple[int, int], int], tuple[int, int] | None]:
    """Grid cell (col, row) of each point index, scaled to fill width x height (collisions move aside),
    and the cell of the origin (None if it falls outside)."""
    if not points or width < 1 or height < 1:
        return {}, None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 1) / (x1 - x0) if x1 > x0 else 0.0
    sy = (height - 1) / (y1 - y0) if y1 > y0 else 0.0

    def cell(x: float, y: float) -> tuple[int, int]:
        return (round((x - x0) * sx) if sx else width // 2, round((y1 - y) * sy) if sy else height // 2)  # y up

    cells: dict[tuple[int, int], int] = {}
    for i, (x, y) in enumerate(points):
        col, row = cell(x, y)
        for dc in (0, 1, -1, 2, -2, 3, -3):
            c = col + dc
            if 0 <= c < width and (c, row) not in cells:
                cells[(c, row)] = i
                break
    oc, orow = cell(0.0, 0.0)
    return cells, ((oc, orow) if 0 <= oc < width and 0 <= orow < height else None)


class EmbeddingCanvas(Static):
    """The characters on a grid the size of the widget."""

    def __init__(self, **kwargs) -> None:
        super().__init__("[dim]waiting for the model…[/]", **kwargs)
        self.chars = ""
        self.points: list[tuple[float, float]] = []

    def set_points(self, chars: str, points: list[tuple[float, float]]) -> None:
        self.chars, self.points = chars, points
        self.update(self.render_grid())

    def render_grid(self) -> Text:
        w, h = max(10, self.size.width), max(4, self.size.height)
        cells, origin = place(self.points, w, h)
        grid = [[" "] * w for _ in range(h)]
        style = [[""] * w for _ in range(h)]
        if origin is not None:  # faint axes through 0 (the mean, for principal components)
            oc, orow = origin
            for c in range(w):
                grid[orow][c], style[orow][c] = "·", "dim"
            for r in range(h):
                grid[r][oc], style[r][oc] = "·", "dim"
        for (c, r), i in cells.items():
            ch = self.chars[i]
            grid[r][c] = ch
            style[r][c] = "bold #ffaf00" if ch in VOWELS else ("bold magenta" if i == 0 else "bold cyan")
        out = Text()
        for r in range(h):
            for c in range(w):
                out.append(grid[r][c], style=style[r][c] or None)
            if r < h - 1:
                out.append("\n")
        return out

    def on_resize(self) -> None:
        if self.points:
            self.update(self.render_grid())


class EmbeddingsView(ViewScreen):
    kind = "embeddings"
    TITLE = "Embedding map"
    HINT = "each character where its embedding puts it · vowels orange, '.' magenta · esc: back"

    def compose_body(self) -> ComposeResult:
        yield EmbeddingCanvas(id="emb-canvas")

    def show(self, step: int, chars: str, points: list, explained: float, axes: str, **_) -> None:
        self.query_one(EmbeddingCanvas).set_points(chars, [tuple(p) for p in points])
        if axes == "dims":
            what = "the two embedding dimensions"
        else:
            what = f"top two principal components: {explained:.0%} of the variance"
        self.set_status(f"step {step:,} · {what} · updates twice a second while training")

"""The grid both embedding maps draw on (a character model's, tui/views/embeddings.py, and a word model's,
tui/views/embeddings_words.py): points scaled to fill the grid's cells, y up, and the grid drawn as rows of exactly
its width, with faint axes through the origin. Written once so that the two maps cannot disagree on where a point
or the origin falls."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

Cell = tuple[int, int]  # (col, row)
# (text, style) per cell; None for a cell covered by the one before it (a wide character, a label)
Grid = list[list[tuple[str, str] | None]]


def scaler(points: list[tuple[float, float]], width: int, height: int) -> tuple[Callable[[float, float], Cell],
                                                                                 Cell | None]:
    """The cell of any (x, y), scaled so that the points fill width x height (y up; a flat axis at the middle),
    and the cell of the origin (None if it falls outside). points must not be empty."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 1) / (x1 - x0) if x1 > x0 else 0.0
    sy = (height - 1) / (y1 - y0) if y1 > y0 else 0.0

    def cell(x: float, y: float) -> Cell:
        return (round((x - x0) * sx) if sx else width // 2, round((y1 - y) * sy) if sy else height // 2)  # y up

    oc, orow = cell(0.0, 0.0)
    return cell, ((oc, orow) if 0 <= oc < width and 0 <= orow < height else None)


def blank_grid(width: int, height: int, origin: Cell | None) -> Grid:
    """An empty grid, with faint axes through the origin (the mean, for principal components) if it is on it."""
    grid: Grid = [[(" ", "")] * width for _ in range(height)]
    if origin is not None:
        oc, orow = origin
        grid[orow] = [("·", "dim")] * width
        for r in range(height):
            grid[r][oc] = ("·", "dim")
    return grid


def grid_rows(grid: Grid) -> Text:
    """The grid as Text, a line a row (covered cells skipped: what covers them is already as wide)."""
    out = Text()
    for r, row in enumerate(grid):
        for item in row:
            if item is not None:
                out.append(item[0], style=item[1] or None)
        if r < len(grid) - 1:
            out.append("\n")
    return out

"""The embedding map of a word model: the most frequent words as labels, where their embeddings put them.

A word model has thousands of tokens; a terminal holds a few hundred short labels at best. The training process
sends the most frequent tokens of the training split, most frequent first (core.probes.inspection.embedding_map);
here they are placed in that order, each centred on its point, with a blank cell between neighbours on a row so
that two labels never read as one word. A label with no free place near its point is left out, and labels stop
once they cover DENSITY of the grid: a full grid is a wall of text, not a map.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from tui.cells import truncate_cells, visible
from tui.views.mapgrid import blank_grid, grid_rows, scaler

DENSITY = 0.3  # the share of the grid's cells labels may cover
MAX_LABEL = 14  # cells of the longest label drawn (a longer word is cut with an ellipsis)
SPECIAL = ("</s>", "<unk>")  # the line end and the unknown word, coloured apart
BOLD_TOP = 10  # the most frequent words are drawn bold
# the places a label may move to, nearest first: a few rows up or down, further along its row (labels are wide)
NEAR = sorted(((dr, dc) for dr in range(-3, 4) for dc in range(-16, 17)),
              key=lambda d: (abs(d[0]) * 6 + abs(d[1]), abs(d[0]), -d[1] if d[1] < 0 else d[1]))


def label_glyph(token: str) -> str:
    """What the map draws for a token: its visible form, at most MAX_LABEL cells."""
    shown = visible(token) or "?"
    return shown if cell_len(shown) <= MAX_LABEL else truncate_cells(shown, MAX_LABEL)


def place_labels(points: list[tuple[float, float]], widths: list[int], width: int, height: int
                 ) -> tuple[dict[int, tuple[int, int]], tuple[int, int] | None]:
    """Where label i starts, (col, row), for the labels that fit, placed in order (the most frequent first), and the
    cell of the origin (None outside). Each label is centred on its point's cell, kept inside the grid, moved to the
    nearest free place (NEAR's order) with a blank cell either side of it on its row, or left out."""
    if not points or width < 1 or height < 1:
        return {}, None
    cell, origin = scaler(points, width, height)
    budget = int(DENSITY * width * height)
    taken: set[tuple[int, int]] = set()
    out: dict[int, tuple[int, int]] = {}
    for i, ((x, y), n) in enumerate(zip(points, widths)):
        if n > width or len(taken) + n > budget:
            continue
        col, row = cell(x, y)
        col = min(max(0, col - n // 2), width - n)
        for dr, dc in NEAR:
            c, r = col + dc, row + dr
            if c < 0 or c + n > width or not 0 <= r < height:
                continue
            if any((k, r) in taken for k in range(c - 1, c + n + 1)):  # its cells and a blank either side
                continue
            out[i] = (c, r)
            taken.update((k, r) for k in range(c, c + n))
            break
    return out, origin


def label_style(token: str, rank: int) -> str:
    if token in SPECIAL:
        return "bold magenta"
    return "bold cyan" if rank < BOLD_TOP else "cyan"


def word_grid(labels: list[str], points: list[tuple[float, float]], width: int, height: int) -> tuple[Text, int]:
    """The map as `height` rows of exactly `width` cells, and how many labels it draws."""
    glyphs = [label_glyph(t) for t in labels[: len(points)]]
    starts, origin = place_labels(points, [cell_len(g) for g in glyphs], width, height)
    grid = blank_grid(width, height, origin)
    for i, (c, r) in starts.items():
        g = glyphs[i]
        grid[r][c] = (g, label_style(labels[i], i))
        for k in range(1, cell_len(g)):
            grid[r][c + k] = None  # covered by the label
    return grid_rows(grid), len(starts)

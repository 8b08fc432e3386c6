"""Wide (CJK, emoji) and zero-width (combining) characters in the embedding map, samples and score panes.

Every pane lays out in terminal cells, measured as Textual does with rich.cells.cell_len: rows must be
exactly as wide as asked and columns must start at the same cell whatever the characters.
"""

from __future__ import annotations

import random

import pytest
from panetext import SizedSamples, rows
from rich.cells import cell_len

from tui.cells import pad_cells, truncate_cells, visible
from tui.views.embeddings import grid_text, place
from tui.views.scoring import render_score

WIDE = ["漢", "字", "😀", "🐍", "한"]
ZERO = ["\u0301", "\u0308", "\u200d", "\ufe0f", "\U0001f3fd", "\t", "\x00"]  # marks, joiner, VS16, skin tone, controls
NAMES = ["emma", "漢字", "漢字漢字漢字漢字漢字漢字漢字", "😀😀bob", "e\u0301mile", "zoe\u0308", "a\u200db",
         "👨\u200d👩\u200d👧", "❤\ufe0fx", "x" * 40, "a漢" * 12, "\u0301lead", "🇫🇷fr"]


def cell_slice(line: str, start: int, end: int) -> str:
    """The characters of `line` whose cell lies in [start, end); a zero-width mark goes with the one before it."""
    out = []
    for i, ch in enumerate(line):
        offset = cell_len(line[:i])
        if cell_len(ch) == 0 and i > 0:
            offset = max(0, cell_len(line[: i + 1]) - 1)
        if start <= offset < end:
            out.append(ch)
    return "".join(out)


# ---- the helpers ----
@pytest.mark.parametrize("text", NAMES + ["", "ab"])
@pytest.mark.parametrize("width", range(0, 9))
def test_pad_and_truncate_measure_in_cells(text: str, width: int) -> None:
    assert cell_len(truncate_cells(text, width)) <= width
    assert cell_len(truncate_cells(text, width, ellipsis="", keep="end")) <= width
    for align in ("left", "right", "center"):
        assert cell_len(pad_cells(text, width, align)) == width
    if cell_len(text) <= width:
        assert truncate_cells(text, width) == text
    elif width:
        assert truncate_cells(text, width).endswith("…")


def test_truncation_keeps_whole_characters() -> None:
    assert truncate_cells("漢字漢字", 4) == "漢…"  # the second wide char would straddle the limit: dropped
    assert truncate_cells("漢字漢字", 5, ellipsis="", keep="end") == "漢字"
    assert truncate_cells("e\u0301e\u0301e\u0301", 2) == "e\u0301…"  # a mark stays with its letter
    assert truncate_cells("..e\u0301\u0301ab", 3, ellipsis="", keep="end") == "e\u0301\u0301ab"


def test_zero_width_characters_are_made_visible() -> None:
    for ch in ZERO:
        assert cell_len(visible(ch)) == 1, repr(ch)
    assert visible("\u0301") == "◌\u0301"
    assert visible("a") == "a" and visible("漢") == "漢"


# ---- the embedding map ----
def test_grid_rows_are_exactly_the_width_with_wide_and_zero_width_characters() -> None:
    chars = ".ae" + "".join(WIDE) + "".join(ZERO)
    points = [(float(i % 5), float(i // 5)) for i in range(len(chars))]
    for w, h in ((10, 4), (11, 5), (40, 12), (80, 24)):
        lines = rows(grid_text(chars, points, w, h))
        assert len(lines) == h
        assert [cell_len(line) for line in lines] == [w] * h, lines
    drawn = "".join(rows(grid_text(chars, points, 80, 24)))
    for ch in chars:
        assert visible(ch) in drawn, repr(ch)


def test_wide_character_at_the_right_edge_moves_left() -> None:
    chars = ".a漢"
    points = [(0.0, 0.0), (1.0, 1.0), (10.0, 0.5)]  # 漢 is the rightmost point: its cell is the last column
    cells, _ = place(points, 20, 5, [1, 1, 2])
    (col, _row), = [k for k, i in cells.items() if i == 2]
    assert col == 18  # covers 18 and 19
    lines = rows(grid_text(chars, points, 20, 5))
    assert all(cell_len(line) == 20 for line in lines)
    assert any(line.endswith("漢") for line in lines)


def test_wide_characters_never_overlap() -> None:
    points = [(1.0, 1.0)] * 4 + [(0.0, 0.0), (2.0, 2.0)]
    widths = [2, 1, 2, 2, 1, 1]
    cells, _ = place(points, 30, 5, widths)
    covered = [(c + k, r) for (c, r), i in cells.items() for k in range(widths[i])]
    assert len(covered) == len(set(covered)) == sum(widths)
    lines = rows(grid_text(".漢a字😀b", points, 30, 5))
    assert all(cell_len(line) == 30 for line in lines)
    for ch in "漢a字😀":
        assert ch in "".join(lines)


def test_grid_of_random_crowded_points_keeps_every_row_at_the_width() -> None:
    rng = random.Random(7)
    pool = list("abcdefghijklmnopqrstuvwxyz.") + WIDE + ZERO
    for _ in range(40):
        n = rng.randint(1, 60)
        chars = "".join(rng.choice(pool) for _ in range(n))
        points = [(rng.gauss(0, 1), rng.gauss(0, 1)) for _ in range(n)]
        w, h = rng.randint(10, 50), rng.randint(4, 12)
        lines = rows(grid_text(chars, points, w, h))
        assert len(lines) == h
        assert all(cell_len(line) == w for line in lines), (chars, lines)


# ---- the samples pane ----
@pytest.mark.parametrize("cols", [0, 30, 60])
def test_samples_marks_line_up_in_cells(cols: int) -> None:
    pane = SizedSamples(cols)
    pane.batches.appendleft((100, [(n, i % 2 == 0) for i, n in enumerate(NAMES)]))
    pane.batches.appendleft((200, [(n, i % 3 == 0) for i, n in enumerate(reversed(NAMES))]))
    lines = [line for line in rows(pane.render_batches()) if line.startswith(" ")]
    assert len(lines) == 2 * len(NAMES)
    starts = set()
    for line in lines:
        mark = next(m for m in ("in training set", "seen", "new") if line.endswith(" " + m))
        starts.add(cell_len(line[: -len(mark)]))
    assert len(starts) == 1, lines  # the mark column starts at one cell offset on every line
    name_width = starts.pop() - 2
    for line in lines:
        name = cell_slice(line, 1, 1 + name_width)
        assert cell_len(name) == name_width
    assert any("…" in line for line in lines)  # the long ones are cut, by cells


# ---- the score view ----
def score_positions() -> list[tuple]:
    """Positions as the training process sends them: (context, next char, p, alternatives)."""
    contexts = ["...", "..漢", ".漢字", "漢字😀", "字😀e\u0301", "😀e\u0301\u0301", "e\u0301\u0301."]
    contexts = [c.rjust(7, ".") for c in contexts]
    nexts = ["漢", "字", "😀", "e", "\u0301", ".", "a"]
    alts = [("漢", 0.5), ("\u0301", 0.25), (".", 0.1)]
    return [(c, n, 0.01 + 0.1 * i, alts) for i, (c, n) in enumerate(zip(contexts, nexts))]


@pytest.mark.parametrize("compact", [False, True])
def test_score_columns_line_up_in_cells(compact: bool) -> None:
    positions = score_positions()
    text = render_score("漢字😀e\u0301", positions, 12.5, 1.8, [], False, compact).plain
    lines = text.split("\n")
    header = next(i for i, line in enumerate(lines) if line.startswith(" context"))
    table = lines[header + 1 : header + 1 + len(positions)]
    for line, (context, char, prob, _alts) in zip(table, positions):
        ctx = cell_slice(line, 0, 8)
        assert cell_len(ctx) == 8, line  # right-aligned to 7 cells after the leading space
        assert context.endswith(ctx.strip()), (ctx, context)
        assert cell_len(ctx.strip()) >= min(7, cell_len(context)) - 1  # cut from the left, by whole chars
        assert cell_slice(line, 8, 10) == "  "
        nxt = cell_slice(line, 10, 14)
        assert cell_len(nxt) == 4
        assert nxt.rstrip() == ("end" if char == "." else visible(char))
        assert cell_slice(line, 14, 22) == f" {prob:7.4f}", line  # p(next) starts at one cell on every row


def test_score_marks_completions_in_the_training_set_like_the_cli() -> None:
    completions = [("emma", True), ("emmy", False), ("漢字", True)]
    text = render_score("em", score_positions()[:2], 3.0, 1.5, completions, True).plain
    assert "emma*, emmy, 漢字*" in text
    assert "(* in the training set)" in text
    assert "(* new)" not in text

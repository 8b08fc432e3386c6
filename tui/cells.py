"""Padding and truncating by terminal cells, not by len().

A CJK character or an emoji takes two cells and a combining mark none, so str formatting and slicing
misalign columns (and wrap rows) as soon as names leave ASCII. Widths are measured with rich's cell_len,
which is what Textual lays text out with.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from rich.cells import cell_len

ZWJ = "\u200d"
REPLACEMENT = "?"


def _boundary(text: str, i: int) -> bool:
    """Whether a cut at index i keeps whole characters: not before a zero-width mark (it belongs to the
    character before it) nor right after a zero-width joiner."""
    return i <= 0 or i >= len(text) or (cell_len(text[i]) > 0 and text[i - 1] != ZWJ)


def truncate_cells(text: str, width: int, ellipsis: str = "…", keep: Literal["start", "end"] = "start") -> str:
    """`text` if it fits in `width` cells, else cut to fit with `ellipsis` where the cut is.

    keep="end" cuts from the left (the end of a context is the part that matters). A wide character that
    would straddle the limit is dropped whole, so the result may be a cell narrower than `width`.
    """
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if cell_len(ellipsis) > width:
        ellipsis = ""
    budget = width - cell_len(ellipsis)
    if keep == "start":
        for j in range(len(text), -1, -1):
            if _boundary(text, j) and cell_len(text[:j]) <= budget:
                return text[:j] + ellipsis
    else:
        for i in range(len(text) + 1):
            if _boundary(text, i) and cell_len(text[i:]) <= budget:
                return ellipsis + text[i:]
    return ellipsis  # pragma: no cover - the empty cut always fits


def pad_cells(text: str, width: int, align: Literal["left", "right", "center"] = "left") -> str:
    """`text` in exactly `width` cells: padded with spaces, or cut at the end (whole characters) if wider."""
    text = truncate_cells(text, width, ellipsis="")
    gap = width - cell_len(text)
    if align == "right":
        out = " " * gap + text
    elif align == "center":
        out = " " * (gap // 2) + text + " " * (gap - gap // 2)
    else:
        out = text + " " * gap
    while cell_len(out) < width:  # a trailing joiner swallows the space after it
        out += " "
    return out


def visible(char: str) -> str:
    """A drawable stand-in for a character that takes no cells on its own: a combining mark is shown on a
    dotted circle ('◌́'), anything else (controls, joiners, lone modifiers) as '?'. Others are unchanged."""
    if cell_len(char) > 0:
        return char
    if char and unicodedata.category(char[0]).startswith("M"):
        shown = "◌" + char
        if cell_len(shown) == 1:
            return shown
    return REPLACEMENT


def wrap_cells(text: str, width: int) -> list[tuple[int, int]]:
    """`text` wrapped to rows of at most `width` cells, as (start, end) spans of it: rows break at spaces (the
    spaces dropped), and only a word wider than a whole row is cut, between whole characters."""
    width = max(1, width)
    rows: list[tuple[int, int]] = []
    start, n = 0, len(text)
    while start < n:
        while start < n and text[start] == " ":
            start += 1
        if start >= n:
            break
        end, used = start, 0
        while end < n and used + cell_len(text[end]) <= width:
            used += cell_len(text[end])
            end += 1
        if end == start:  # a wide character in a one-cell row: it takes the row alone (every row takes one)
            end += 1
            while end < n and not _boundary(text, end):
                end += 1
        if end < n and text[end] != " ":  # the row ends inside a word: break at the last space, if any
            space = text.rfind(" ", start, end)
            if space > start:
                end = space
            else:  # one word wider than the row: cut it, never before a zero-width mark
                while end > start + 1 and not _boundary(text, end):
                    end -= 1
        trimmed = end
        while trimmed > start and text[trimmed - 1] == " ":
            trimmed -= 1
        rows.append((start, trimmed))
        start = end
    return rows

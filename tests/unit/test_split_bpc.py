"""The split pane's bits per character: each split's latest loss over ln 2 over its characters per token (Ready's
chars_per_token), for running text of any kind of token; a word list has no ratio and shows none."""

from __future__ import annotations

import math

from tui.panes.splits import SplitLosses


def test_the_split_pane_turns_losses_into_bits_per_character():
    pane = SplitLosses()
    pane.history = [(10, {"train": 8 * math.log(2), "dev": 6 * math.log(2), "test": math.nan}, "full")]
    assert pane.bits_per_char() == {}  # no ratio (a word list, or before Ready): no bits per character
    pane.set_scale({"train": 4.0, "dev": 2.0, "test": 2.0})
    assert pane.bits_per_char() == {"train": 2.0, "dev": 3.0}  # a loss that is not a number is left out
    full, short = next(n for n in pane.notes("full", wide=False) if "bpc" in n[1])
    assert "bits per character" in full and "dev 3.000" in full and short == "[b]bpc[/] dev 3.00"

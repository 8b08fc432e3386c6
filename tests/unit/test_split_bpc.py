"""The split pane's bits per character: each split's latest loss over ln 2 over its characters per token (Ready's
chars_per_token), for running text of any kind of token, in the column where a word list shows the change; a word
model's is a lower bound, with its <unk> rates; a word list has no ratio and shows none."""

from __future__ import annotations

import math

from tui.panes.splits import SplitLosses, bits_cell


def test_a_loss_per_token_becomes_bits_per_character():
    assert bits_cell(6 * math.log(2), 2.0) == "3.000"
    assert bits_cell(math.nan, 2.0) == bits_cell(None, 2.0) == bits_cell(1.0, None) == "—"


def test_the_pane_reads_the_ratio_and_the_unk_rates_from_ready():
    pane = SplitLosses()
    pane.history = [(10, {"train": 8 * math.log(2), "dev": 6 * math.log(2), "test": math.nan}, "full")]
    pane.set_vocab(50, 1, {"examples": {"train": 800, "dev": 100, "test": 100}})
    assert pane.chars_per_token == {} and not any("bpc" in n[0] for n in pane.notes("full", wide=False))
    info = {"chars_per_token": {"train": 4.0, "dev": 2.0, "test": 2.0}, "examples": {"dev": 100, "test": 200},
            "unk": {"dev": 5, "test": 20}}
    pane.set_vocab(50, 1, info)
    assert pane.chars_per_token["dev"] == 2.0 and pane.unk == {"dev": 0.05, "test": 0.1}
    full, short = next(n for n in pane.notes("full", wide=False) if "bpc" in n[0])
    assert "a lower bound" in full and "dev 5.0%" in full and "test 10.0%" in full and "lower bound" in short
    pane.set_vocab(50, 1, {**info, "unk": None})  # characters or BPE of running text: no <unk>
    full, _ = next(n for n in pane.notes("full", wide=False) if "bpc" in n[0])
    assert "lower bound" not in full and "bits per character" in full

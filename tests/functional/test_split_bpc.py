"""Running text's headline in the split pane: the MLP's bits per character of each split, in the column where a word
list shows the change, equal to core.measures' (from the split's tokens and characters); a word model's column is
marked a lower bound (bpc≥, with the <unk> rates in a note); a word list shows none."""

from __future__ import annotations

import re

import pytest
from apphelpers import Harness, pause_app, running, until, words_of
from textdata import tiny_text

from core.measures import split_measures


@pytest.mark.slow
@pytest.mark.parametrize(("tokens", "size"), [("words", (160, 48)), ("chars", (160, 48)), ("chars", (80, 24)),
                                               ("words", (120, 40))])
async def test_the_split_pane_shows_bits_per_character(harness: Harness, tmp_path, tokens, size) -> None:
    harness.data = tiny_text(tmp_path)
    app = harness.app(format="text", tokens=tokens, min_count=4, block_size=2, n_embd=8, n_hidden=16)
    async with app.run_test(size=size) as pilot:
        await running(pilot, harness, min_step=100)
        await pause_app(pilot)
        pane = app.main_screen.query_one("#splits")
        await until(pilot, lambda: "bpc" in words_of(app, "#splits"), what="bits per character")
        await pilot.pause(0.3)
        losses = pane.history[-1][1]
        m = split_measures(harness.trainer.data, {s: losses[s] for s in ("dev", "test")})
        text = words_of(app, "#splits")
        for split in ("dev", "test"):  # the row: split, loss, bits per character
            row = re.search(rf"{split}\*? (\d+\.\d+) (\d+\.\d+)", text)
            assert row and row[1] == f"{losses[split]:.4f}" and row[2] == f"{m[split]['bpc']:.3f}", text
        assert ("bpc≥" in text) == (tokens == "words"), text  # a word model's: <unk>'s spelling comes free
        assert " Δ " not in f" {text} ", text


@pytest.mark.slow
async def test_a_word_list_shows_no_bits_per_character(harness: Harness) -> None:
    app = harness.app(hidden=16)
    async with app.run_test(size=(160, 48)) as pilot:
        await running(pilot, harness)
        await until(pilot, lambda: "best dev" in words_of(app, "#splits"), what="the first evaluation")
        assert "bpc" not in words_of(app, "#splits")

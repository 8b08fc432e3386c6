"""A word model's split pane: Kneser-Ney of the matching order beside the MLP, and the paper's mixture at a full
evaluation (the baseline itself: tests/unit/test_kneser_ney.py, test_knbaseline.py)."""

from __future__ import annotations

import math

import pytest
from textdata import tiny_text


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_the_split_pane_shows_kneser_ney_and_the_mixture(harness, tmp_path, size) -> None:
    from apphelpers import pause_app, running, until, words_of

    from core.probes import knbaseline

    harness.data = tiny_text(tmp_path)
    app = harness.app(format="text", tokens="words", min_count=4, block_size=2, n_embd=8, n_hidden=16)
    async with app.run_test(size=size) as pilot:
        await running(pilot, harness, min_step=200)
        await until(pilot, lambda: "KN3" in words_of(app, "#splits"), what="the Kneser-Ney note")
        data = harness.trainer.data
        b = knbaseline.build_baseline(data, 3)  # block size 2: a trigram
        text = words_of(app, "#splits")
        assert f"{b.measures['dev']['perplexity']:,.1f}" in text and "word" in text
        assert "mix" in text and "at pause" in text  # no mixture before a full evaluation after step 0
        await pause_app(pilot)
        pane = app.main_screen.query_one("#splits")
        await until(pilot, lambda: pane.mixture is not None, what="the mixture")
        await pilot.pause()
        mixed = pane.mixture
        assert mixed.step == harness.trainer.step and 0 <= mixed.weight <= 1
        assert mixed.perplexity["dev"] <= min(mixed.mlp["dev"], mixed.ngram["dev"]) + 1e-9  # fitted on dev
        assert mixed.ngram["dev"] == pytest.approx(b.measures["dev"]["perplexity"])
        assert mixed.mlp["dev"] == pytest.approx(math.exp(pane.history[-1][1]["dev"]), rel=1e-4)
        assert f"{mixed.perplexity['dev']:,.1f}" in words_of(app, "#splits")
        if size[0] >= 150:  # the columns: KN3's loss per split, and the mixture's on dev and test
            assert "KN3" in text.split("best dev")[0] and f"{b.losses['dev']:.4f}" in text
            assert f"{math.log(mixed.perplexity['dev']):.4f}" in words_of(app, "#splits")

"""The controls pane's parameter count and count table on a word model: |V| is the model's own vocabulary named
by its kind, and while the data settings wait for a reset (another token kind: another vocabulary) it says the
count comes at reset rather than counting with the old vocabulary."""

from __future__ import annotations

import pytest
from apphelpers import Harness, params_of, running, toasts, until
from wordtext import write_text


@pytest.mark.slow
async def test_the_count_table_names_the_vocabulary_and_waits_for_a_new_one(harness: Harness, tmp_path) -> None:
    from textual.widgets import Select

    from tui.screens import ConfirmScreen

    harness.data = write_text(tmp_path / "story.txt", 200)
    app = harness.app(hidden=16, n_embd=8, block_size=3, format="text", tokens="words", min_count=2)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        words = len(harness.trainer.data.vocab)
        await until(pilot, lambda: any("init lecture" in t and "--init kaiming" in t for t in toasts(app)),
                    what="the note on the lecture's init for words")
        await until(pilot, lambda: f"count table: words {words:,}^4 = {words ** 4:,} entries" in params_of(app),
                    what="the count table of words")
        app.query_one("#f-tokens", Select).value = "chars"
        await until(pilot, lambda: "counted at reset" in params_of(app), what="the count waiting for the reset")
        assert "count table" not in params_of(app)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        assert "count table" not in params_of(app) or harness.trainer.data.vocab.tokens == "chars"  # not the old |V|
        await until(pilot, lambda: harness.trainer.data.vocab.tokens == "chars", what="the character model")
        chars = len(harness.trainer.data.vocab)
        await until(pilot, lambda: f"count table: chars {chars}^4 = {chars ** 4:,} entries" in params_of(app),
                    what="the count table of characters")
        assert f"{harness.trainer.model.num_params():,} parameters" in params_of(app)

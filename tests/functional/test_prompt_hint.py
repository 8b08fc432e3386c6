"""The samples pane's prompt field on running text says what it is for whole at every size: at 80x24 its hint
was cut to "prompt (p): the"."""

from __future__ import annotations

import pytest
from apphelpers import Harness, running, screen_text, until
from textdata import tiny_text

from tui.panes.samples import PLACEHOLDERS


@pytest.mark.slow
@pytest.mark.parametrize(("size", "hint"), [((80, 24), PLACEHOLDERS[-1]), ((160, 48), PLACEHOLDERS[0])])
async def test_the_prompt_hint_fits_the_pane(harness: Harness, tmp_path, size, hint) -> None:
    from textual.widgets import Input

    harness.data = tiny_text(tmp_path)
    app = harness.app(format="text", tokens="words", min_count=4, block_size=2, n_embd=8, n_hidden=16)
    async with app.run_test(size=size) as pilot:
        await running(pilot, harness)
        field = app.query_one("#prompt", Input)
        await until(pilot, lambda: field.display and field.placeholder == hint, what="the prompt's hint")
        await pilot.pause()
        assert hint in screen_text(app)

"""An answer for a view that reaches a view of the same kind still being pushed (closed and opened again while the
training process was busy with a chunk) is the closed view's: it is not handed to the new one, whose widgets do
not exist yet (the neighbours view crashed the app so on a word model at 80x24)."""

from __future__ import annotations

import pytest
from apphelpers import Harness, running


@pytest.mark.slow
async def test_an_answer_is_not_shown_by_a_view_before_it_is_mounted(harness: Harness) -> None:
    from tui.views.health import HealthView

    app = harness.app(hidden=16)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness)
        shown: list[dict] = []
        view = HealthView()
        view.show = lambda **payload: shown.append(payload)  # type: ignore[method-assign]
        waiting = app.push_screen(view)  # in the stack, not yet mounted
        assert view in app.screen_stack and not view.is_mounted
        app._to_view("health", {"report": None})
        assert shown == []
        await waiting
        app._to_view("health", {"report": None})
        assert shown == [{"report": None}]  # once mounted, it is shown

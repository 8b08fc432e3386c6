"""The nearest-neighbours view in the app, driven with Pilot at 80x24: opened from the palette and from its key, a
typed character's 10 neighbours as core.probes.neighbours ranks them on the model's table, asked again while the
model trains (about once a second, not per step) and not at all while it is paused, a token the vocabulary lacks,
and an analogy."""

from __future__ import annotations

import re

import pytest
from apphelpers import Harness, running, screen_text, type_in_view, until

from core.probes.neighbours import analogy, nearest
from tui.views.neighbours import REFRESH, NeighboursView

ROW = re.compile(r"^\W*\s+(\d+)\s+('.*?')\s+([+-]\d\.\d{3})")  # a table row inside the border: rank, token, cosine


def rows(app) -> list[tuple[int, str, float]]:
    return [(int(m.group(1)), m.group(2), float(m.group(3)))
            for line in screen_text(app).split("\n") if (m := ROW.match(line))]


def table(h: Harness):
    return h.trainer.model.C.detach().numpy()  # (V, n_embd) float32, as the training process reads it


async def type_query(pilot, text: str) -> None:
    await type_in_view(pilot, "#nb-input", text)


@pytest.mark.slow
async def test_neighbours_view_answers_from_the_training_model(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness, min_step=20)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"neighbours")  # a word of the command's name puts it first (each key re-runs the search)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, NeighboursView), what="the view, from the palette")
        region = app.screen.query_one(".view-title").content_region  # the hint wraps at 80 columns, never cut
        title = " ".join(" ".join(r[region.x : region.right] for r in screen_text(app).split("\n")
                                  [region.y : region.bottom]).split())
        assert title == " ".join(f"{NeighboursView.TITLE} {NeighboursView.HINT}".split())
        assert "type one token, or an analogy: a - b + c" in screen_text(app)  # the empty field's hint
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, NeighboursView), what="back")

        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, NeighboursView), what="the view, from its key")
        view = app.screen
        await type_query(pilot, "a")
        await until(pilot, lambda: view.last is not None and len(rows(app)) == 10, what="10 rows")
        first = view.last["step"]
        await until(pilot, lambda: view.last["step"] > first, timeout=5, what="an answer from a later step")
        sent = view.sent
        await pilot.pause(4 * REFRESH)
        assert 2 <= view.sent - sent <= 6  # about once a second while it trains, not per step nor per frame (~40)

        app.action_toggle_pause()  # (space would go into the field)
        await until(pilot, lambda: app.status == "paused", what="paused")
        await until(pilot, lambda: view.last["step"] == harness.trainer.step, what="the paused model's answer")
        itos = harness.trainer.data.vocab.itos
        want = nearest(table(harness), itos.index("a"), 10)
        assert view.last["found"] == [(itos[i], s) for i, s in want]
        top = (1, repr(itos[want[0][0]]), round(want[0][1], 3))
        await until(pilot, lambda: rows(app)[:1] == [top], what=f"{top} on screen")  # (drawn after the answer)
        assert [r for r, _, _ in rows(app)] == list(range(1, 11))
        assert "nearest to 'a'" in screen_text(app) and f"{len(itos)} tokens" in screen_text(app)
        sent = view.sent
        await pilot.pause(2 * REFRESH)
        assert view.sent == sent  # a paused model's answer does not change: nothing is asked

        await type_query(pilot, "Q")
        await until(pilot, lambda: f"'Q' is not in the model's vocabulary ({len(itos)} tokens)" in screen_text(app),
                    what="the message")
        assert rows(app) == [] and app.status == "paused"

        await type_query(pilot, "a - e + o")
        await until(pilot, lambda: view.last is not None and view.last["tokens"] == ("a", "e", "o"),
                    what="the analogy")
        want = analogy(table(harness), itos.index("a"), itos.index("e"), itos.index("o"), 10)
        assert view.last["found"] == [(itos[i], s) for i, s in want]
        await until(pilot, lambda: "nearest to 'a' - 'e' + 'o'" in screen_text(app), what="the analogy on screen")
        assert not {"'a'", "'e'", "'o'"} & {t for _, t, _ in rows(app)} and len(rows(app)) == 10
        await type_query(pilot, "a - e")  # half an analogy: the usage, not an error from the training process
        await until(pilot, lambda: "type one token, or an analogy" in screen_text(app), what="the usage")

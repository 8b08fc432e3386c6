"""The tokenizer view in the app, driven with Pilot at 80x24: on a word model of running text (from the palette: a
line of the data split into words and ids, typed text with its <unk> marked, the tokens per word and per character
of the training split) and on a character model of names (from its key, after a reset to characters: the view asks
again and shows characters)."""

from __future__ import annotations

import pytest
from apphelpers import Harness, running, screen_text, type_in_view, until

from tui.views.tokenizer import TokenizerView

LINES = ["the cat sat on the mat .", "the dog sat on the log .", "a cat ran to the dog ."] * 20


def shown(app, selector: str) -> str:
    """What a widget of the view shows on screen, inside its border and padding."""
    region = app.screen.query_one(selector).content_region
    rows = screen_text(app).split("\n")[region.y : region.bottom]
    return "\n".join(row[region.x : region.right] for row in rows)


def words(app) -> list[str]:
    return shown(app, "#tk-split").split()


async def type_text(pilot, text: str) -> None:
    await type_in_view(pilot, "#tk-input", text)


@pytest.mark.slow
async def test_tokenizer_view_on_a_word_model_and_a_character_model(harness: Harness, tmp_path) -> None:
    harness.data = tmp_path / "t.txt"
    harness.data.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    app = harness.app(hidden=16, n_embd=8, format="text", tokens="words", min_count=2, steps=10**9)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"tokenizer at work")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TokenizerView), what="the view, from the palette")
        view = app.screen
        stoi = harness.trainer.data.vocab.stoi
        line = ["the", "cat", "sat", "on", "the", "mat", "."]
        await until(pilot, lambda: view.split is not None and words(app)[1:8] == line, what="a line of the data")
        ids = [str(stoi[w]) for w in line]
        assert " ".join(ids) in " ".join(words(app))  # the ids under the tokens
        summary = " ".join(shown(app, "#tk-summary").split())
        assert f"words and punctuation of running text: {len(stoi)} tokens" in summary
        assert "1.000 tokens per word" in summary  # a word model: one token per word
        per_char = (len(harness.trainer.data.Y["train"])) / harness.trainer.data.chars["train"]
        assert f"{per_char:.3f} tokens per character" in summary
        await type_text(pilot, "The cat, zebra")
        await until(pilot, lambda: view.split is not None and view.split["text"] == "The cat, zebra",
                    what="the typed text's split")
        split = words(app)
        assert split[split.index("line:") + 1:][:4] == ["The", "cat", ",", "zebra"]
        assert split[-8:-4] == ["The*", "cat", ",*", "zebra*"]  # the tokens over their ids, the unknown marked
        unk = str(stoi["<unk>"])
        assert split[-4:] == [unk, str(stoi["cat"]), unk, unk]
        assert "* 3 not in the vocabulary" in " ".join(split)  # "The" (case kept), "," (never in the text), "zebra"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TokenizerView), what="back")

        app.values.update(tokens="chars")  # as the form's tokens field would, then r: a character model
        app.main_screen.query_one("ControlsPane").set_form(app.values)
        await pilot.press("r")
        await pilot.pause(0.3)
        await pilot.press("y")  # throw away the word model
        await until(pilot, lambda: harness.pump.trainer is not None and harness.trainer.data.options.tokens == "chars"
                    and app.info is not None and app.info["text"]["tokens"] == "chars", what="a character model")
        await pilot.press("z")
        await until(pilot, lambda: isinstance(app.screen, TokenizerView), what="the view, from its key")
        view = app.screen
        await until(pilot, lambda: view.summary is not None and view.summary["kind"] == "chars", what="characters")
        await type_text(pilot, "cat")
        await until(pilot, lambda: view.split is not None and view.split["text"] == "cat", what="cat split")
        stoi = harness.trainer.data.vocab.stoi
        assert [(t, i) for t, i, _ in view.split["tokens"]] == [(c, stoi[c]) for c in "cat"]
        assert "every token is one character" in screen_text(app)
        assert app.status not in ("crashed", "error"), app.last_error

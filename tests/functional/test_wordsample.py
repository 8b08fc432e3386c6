"""Text in and out of a word model of running text (issue 22), through the command line and the app: `sample`
and its prompt (`--prefix`), the samples pane's wrapped lines and prompt field, and the score view of a sentence."""

from __future__ import annotations

import re

import pytest
from apphelpers import Harness, pause_app, running, screen_text, text_of, until
from conftest import assert_cli_error, run_cli
from rich.cells import cell_len
from wordtext import write_text

from core.probes.linescore import score_line
from tui.panes.samples import SamplesPane
from tui.views.scoring import ScoringView

TEXT_FLAGS = ["--format", "text", "--tokens", "words", "--min-count", "1"]


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    """A tiny word model of a generated text, trained by `mlp-tui train`: (its run folder, its vocabulary)."""
    from tui.cli import main

    base = tmp_path_factory.mktemp("wordrun")
    text = write_text(base / "text.txt")
    assert main(["train", "--data", str(text), *TEXT_FLAGS, "--steps", "3000", "--hidden", "48", "--lr", "0.2",
                 "--out", str(base / "run"), "--quiet"]) == 0
    from core.runs.checkpoint import load_checkpoint

    return base / "run", set(load_checkpoint(base / "run" / "model.pt").vocab.itos)


def test_sample_writes_lines_of_vocabulary_words(capsys, word_run):
    run, vocab = word_run
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "-n", "50", "--seed", "3"])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 50
    for line in lines:
        assert set(line.split(" ") if line else []) <= vocab, line
    assert sum(line.endswith(" .") for line in lines) >= 40  # they end as the text's lines do


def test_prefix_is_a_prompt_the_lines_continue(capsys, word_run):
    run, vocab = word_run
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "-n", "20", "--seed", "3",
                                      "--prefix", "  Anna   saw"])
    assert code == 0 and err == ""
    assert all(line.startswith("Anna saw ") for line in out.splitlines()), out
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "-n", "5", "--prefix", "Anna saw Zorro"])
    assert code == 0 and all(line.startswith("Anna saw <unk>") for line in out.splitlines()), out
    assert err.count("\n") == 1 and err.startswith("mlp-tui: note: --prefix: ") and "'Zorro'" in err
    assert "<unk>" in err


@pytest.mark.parametrize("prefix", ["", "   "])
def test_an_empty_prompt_is_refused(capsys, word_run, prefix):
    run, _ = word_run
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "--prefix", prefix])
    assert out == ""
    assert_cli_error(code, err, "--prefix", "empty")


def view_text(app, selector: str) -> str:
    """What a widget of the screen on top (a view) shows inside its border, one line per row."""
    region = app.screen.query_one(selector).content_region
    rows = screen_text(app).split("\n")[region.y : region.bottom]
    return "\n".join(row[region.x : region.right] for row in rows)


def words_app(harness: Harness, tmp_path):
    harness.data = write_text(tmp_path / "text.txt")
    return harness.app(format="text", tokens="words", min_count=1, hidden=32, lr=0.2)


@pytest.mark.slow
async def test_the_samples_pane_wraps_lines_and_takes_a_prompt(harness: Harness, tmp_path) -> None:
    app = words_app(harness, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(SamplesPane)
        await running(pilot, harness, min_step=300)
        await until(pilot, lambda: pane.text_mode and len(pane.batches) >= 2, what="samples of a trained model")
        vocab = set(harness.trainer.data.vocab.itos)
        rows = text_of(app, "#samples").split("\n")
        width = pane.content_region.width
        body = rows[[i for i, r in enumerate(rows) if r.startswith("step ")][0] + 1 :]
        assert len(body) >= 4, rows
        for row in body:  # whole words on every row: wrapped at spaces, never cut inside a word
            assert cell_len(row.rstrip()) <= width
            assert set(row.split()) <= vocab | {"›", "…", "(seen)", "step"} or row.startswith("step "), row
        first = pane.batches[0][1][0][0]
        assert " ".join(first.split()[:4]) in " ".join(" ".join(body).replace("›", " ").split())

        await pilot.press("p")
        assert app.focused is app.query_one("#prompt")
        await pilot.press(*"Anna saw", "enter")
        await until(pilot, lambda: harness.pump.session.prompt != [] and pane.extras[0][0] == "Anna saw",
                    what="samples of the prompt")
        assert all(line.startswith("Anna saw") for line, _ in pane.batches[0][1])
        assert app.focused is not app.query_one("#prompt")  # Enter leaves the field: the keys work again
        assert "Anna saw" in text_of(app, "#samples")
        await pilot.press("p")
        assert app.focused is app.query_one("#prompt"), app.focused
        await pilot.press("ctrl+shift+a", "backspace", "enter")  # emptied: the prompt is cleared
        await until(pilot, lambda: harness.pump.session.prompt == [] and pane.extras[0][0] == "",
                    what="the prompt cleared")


@pytest.mark.slow
async def test_the_score_view_scores_a_sentence_token_by_token(harness: Harness, tmp_path) -> None:
    app = words_app(harness, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await running(pilot, harness, min_step=300)
        await pause_app(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ScoringView), what="the score view")
        sentence = "Anna saw a Zorro sheep"
        await pilot.press(*sentence)
        await until(pilot, lambda: app.screen.last is not None and app.screen.last["text"] == sentence,
                    what="the score")
        expected = score_line(harness.trainer.model, harness.trainer.data.vocab, sentence)
        screen = view_text(app, "#score-out")
        rows = [line for line in screen.split("\n") if re.match(r"^\s*(Anna|saw|a|Zorro|sheep|end)\s", line)
                and re.search(r"\d\.\d{4}", line)]
        assert [r.split()[0] for r in rows] == ["Anna", "saw", "a", "Zorro", "sheep", "end"], screen
        for row, pos in zip(rows, expected.positions):
            assert f"{pos.prob:.4f}" in row and f"{pos.bits:.2f}" in row
            assert ("<unk>" in row) == pos.unk
        assert f"{expected.bpc:.3f} bits per character (a lower bound: 1 <unk>)" in " ".join(screen.split())
        assert f"perplexity {expected.perplexity:,.2f}" in screen
        assert "Score a sentence" in view_text(app, ".view-title")

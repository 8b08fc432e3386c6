"""The exercises: each tick set from run folders made here, by the same rules the view shows."""

from __future__ import annotations

import pytest
from conftest import run_cli, write_words

from core.probes.exercises import check


def _train(capsys, words, out, *flags):
    code, _, err = run_cli(capsys, ["train", "--data", str(words), "--n-hidden", "16", "--out", str(out), "--quiet",
                                    *flags])
    assert code == 0, err


def test_the_exercises_tick_themselves_from_the_runs(capsys, tmp_path, words_file):
    runs = tmp_path / "runs"
    assert [e.done for e in check(runs)] == [False] * 4
    easy = write_words(tmp_path / "easy.txt", ["abab"] * 60)  # one word: a model learns it to a tiny dev loss
    _train(capsys, easy, runs / "easy", "--init", "kaiming", "--steps", "400", "--lr", "0.5")
    e01, e02, e03, zero = check(runs)
    assert e01.done and "easy: best dev" in e01.evidence
    assert e02.done and "ln(vocab) = 1.099" in e02.evidence  # 3 characters: '.', a, b
    assert not e03.done and not zero.done
    _train(capsys, words_file, runs / "lecture-init", "--steps", "50")
    assert check(runs)[1].evidence.startswith("easy:")  # the lecture's init starts far above ln(vocab)
    _train(capsys, words_file, runs / "with", "--direct", "--steps", "60", "--lr", "0.2")
    assert not check(runs)[2].done and "none without" in check(runs)[2].evidence
    _train(capsys, words_file, runs / "without", "--steps", "90", "--lr", "0.2")  # the same but its length
    e03 = check(runs)[2]
    assert e03.done and "with (direct) and" in e03.evidence
    _train(capsys, words_file, runs / "zero", "--init", "zero", "--steps", "50")
    assert check(runs)[3].done


@pytest.mark.slow
async def test_the_exercises_view_shows_the_ticks(harness, tmp_path, capsys) -> None:
    from apphelpers import until

    from tui.views.exercises import ExercisesView

    easy = write_words(tmp_path / "easy.txt", ["abab"] * 60)
    _train(capsys, easy, tmp_path / "runs" / "easy", "--init", "kaiming", "--steps", "400", "--lr", "0.5")
    app = harness.app(hidden=32)
    app.runs_dir = tmp_path / "runs"
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ExercisesView) and app.screen.rows, what="the exercises")
        from apphelpers import screen_text

        await pilot.pause(0.2)
        text = screen_text(app)
        assert "E01" in text and "E02" in text and "E03" in text and text.count("✓") == 2
        assert [e.done for e in app.screen.rows][:2] == [True, True]


@pytest.mark.slow
async def test_g_saves_an_svg_of_the_screen_into_the_run_folder(harness) -> None:
    from pathlib import Path

    from apphelpers import running, until

    app = harness.app(hidden=32)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await running(pilot, harness, min_step=50)
        await until(pilot, lambda: app.run_path is not None, what="the run folder")
        await pilot.press("g")
        await until(pilot, lambda: list(Path(app.run_path).glob("mlp-tui-*.svg")), what="the screenshot")
        (svg,) = Path(app.run_path).glob("mlp-tui-*.svg")
        text = svg.read_text()
        assert text.startswith("<svg") and "Controls" in text and "Split" in text

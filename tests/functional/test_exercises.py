"""The exercises: each tick set from run folders made here, by the same rules the view shows."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli, write_words

from core.data import builtin_dir
from core.probes.exercises import check


def _train(capsys, words, out, *flags):
    code, _, err = run_cli(capsys, ["train", "--data", str(words), "--n-hidden", "16", "--out", str(out), "--quiet",
                                    *flags])
    assert code == 0, err


def _claim_dev(run, dev: float) -> None:
    """Rewrite a run's best dev loss in its run.json, as a long run on names would have reached it."""
    info = json.loads((run / "run.json").read_text())
    info["best_dev_loss"] = dev
    (run / "run.json").write_text(json.dumps(info))


def test_the_exercises_tick_themselves_from_the_runs_on_names(capsys, tmp_path):
    runs = tmp_path / "runs"
    assert [e.done for e in check(runs)] == [False] * 4
    easy = write_words(tmp_path / "easy.txt", ["abab"] * 60)  # one word: a dev loss far below the lecture's 2.17
    _train(capsys, easy, runs / "easy", "--init", "kaiming", "--steps", "400", "--lr", "0.5")
    _train(capsys, easy, runs / "easy-zero", "--init", "zero", "--steps", "20")
    assert [e.done for e in check(runs)] == [False] * 4  # on other data: the lecture's exercises are on names
    assert "no run on names below 2.17 yet (2 runs on other data" in check(runs)[0].evidence
    _train(capsys, "names", runs / "lecture-init", "--steps", "20")
    _train(capsys, "names", runs / "kaiming", "--init", "kaiming", "--steps", "20", "--dedupe")  # dedupe counts
    e01, e02, e03, zero = check(runs)
    assert not e01.done and e02.done and e02.evidence.startswith("kaiming:") and "ln(vocab) = 3.296" in e02.evidence
    _claim_dev(runs / "kaiming", 2.1)
    _claim_dev(runs / "easy", 0.01)
    assert check(runs)[0].done and check(runs)[0].evidence == "kaiming: best dev 2.1000"
    _train(capsys, "names", runs / "with", "--direct", "--steps", "20", "--lr", "0.2")
    assert not check(runs)[2].done and "none without" in check(runs)[2].evidence
    _train(capsys, "names", runs / "without", "--steps", "30", "--lr", "0.2")  # the same but its length
    assert check(runs)[2].done and "with (direct) and" in check(runs)[2].evidence
    assert not check(runs)[3].done
    _train(capsys, builtin_dir() / "names.txt", runs / "zero", "--init", "zero", "--steps", "10")  # names by its path
    assert check(runs)[3].done and check(runs)[3].evidence.startswith("zero:")


@pytest.mark.slow
async def test_the_exercises_view_shows_the_ticks(harness, tmp_path, capsys) -> None:
    from apphelpers import until

    from tui.views.exercises import ExercisesView

    easy = write_words(tmp_path / "easy.txt", ["abab"] * 60)  # beats 2.17 on other data: no tick
    _train(capsys, easy, tmp_path / "runs" / "easy", "--init", "kaiming", "--steps", "400", "--lr", "0.5")
    _train(capsys, "names", tmp_path / "runs" / "k", "--init", "kaiming", "--steps", "20")  # E02 on names
    app = harness.app(hidden=32)
    app.runs_dir = tmp_path / "runs"
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ExercisesView) and app.screen.rows, what="the exercises")
        from apphelpers import screen_text

        await pilot.pause(0.2)
        text = screen_text(app)
        assert "E01" in text and "E02" in text and "E03" in text and text.count("✓") == 1
        assert [e.done for e in app.screen.rows] == [False, True, False, False]
        assert "on other data: only runs on the built-in names count" in app.screen.rows[0].evidence
        assert "on the built-in names" in text


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

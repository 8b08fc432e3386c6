"""The inspection views, the runs and dataset views, and the small-terminal notice, driven with Pilot.

Uses test_app's harness: the trainer runs in a thread of the test process on a 70-word list.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from apphelpers import WORDS, Harness, pause_app, running, screen_text, until

from core.probes.inspection import score
from core.runs.folder import read_info, read_losses
from tui.views.embeddings import EmbeddingsView
from tui.views.health import HealthView
from tui.views.lrfind import LRFindView
from tui.views.runs import RunsView
from tui.views.scoring import ScoringView


def view_text(app) -> str:
    return screen_text(app)


@pytest.mark.slow
async def test_embedding_map_draws_every_character(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(100, 30)) as pilot:
        await running(pilot, harness)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, EmbeddingsView), what="the embedding map")
        await until(pilot, lambda: "principal components" in view_text(app), what="the map's data")
        text = view_text(app)
        lines = text.split("\n")
        top = next(i for i, line in enumerate(lines) if line.lstrip().startswith("╭"))
        bottom = next(i for i, line in enumerate(lines) if line.lstrip().startswith("╰"))
        body = lines[top + 1 : bottom]  # inside the canvas's border
        drawn = set("".join(body))
        assert set("abcdefghijklmnopqrstuvwxyz") <= drawn, text
        share = re.search(r"(\d+)% of the variance", text)
        assert share and 0 < int(share.group(1)) <= 100
        step_before = int(re.search(r"step ([\d,]+) ·", text).group(1).replace(",", ""))
        await until(pilot, lambda: (m := re.search(r"step ([\d,]+) ·", view_text(app))) is not None
                    and int(m.group(1).replace(",", "")) > step_before, what="the map to update while training")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, EmbeddingsView), what="back to the app")
        await until(pilot, lambda: harness.pump.watch == set(), what="the map to stop being fed")


@pytest.mark.slow
async def test_lr_finder_suggests_applies_and_leaves_the_model_alone(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(100, 30)) as pilot:
        await running(pilot, harness, min_step=200)
        await pause_app(pilot)
        before = [p.detach().clone() for p in harness.trainer.model.parameters()]
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, LRFindView) and app.screen.suggestion is not None,
                    what="the sweep")
        suggestion = app.screen.suggestion
        assert 1e-3 <= suggestion <= 1.0
        assert f"suggested lr {suggestion:.3g}" in view_text(app)
        for p, b in zip(harness.trainer.model.parameters(), before):
            assert torch.equal(p, b)
        await pilot.press("a")
        applied = float(f"{suggestion:.3g}")
        await until(pilot, lambda: harness.trainer.config.lr == applied, what="the lr to reach the trainer")
        assert app.values["lr"] == applied


@pytest.mark.slow
async def test_scoring_matches_the_model_and_completes_the_prefix(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(100, 30)) as pilot:
        await running(pilot, harness, min_step=200)
        await pause_app(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ScoringView), what="the scoring view")
        await pilot.press(*"emma")
        await until(pilot, lambda: app.screen.last is not None and app.screen.last["text"] == "emma",
                    what="the score")
        expected = score(harness.trainer.model, harness.trainer.data.vocab, "emma")

        def rows() -> list[str]:  # one per character and the end; the table can draw a frame after the score
            return [line for line in view_text(app).split("\n")
                    if re.search(r"^\W*\s+\S*\s+(e|m|a|end)\s+0\.\d{4}", line)]

        await until(pilot, lambda: len(rows()) >= 5, what=f"the per-character rows, on screen:\n{view_text(app)}")
        text = view_text(app)
        assert f"NLL {expected.nll:.3f} nats over 5 characters" in text
        assert "in the training set" in text or "not in the training set" in text
        assert len(rows()) == 5
        completions = app.screen.last["completions"]
        assert len(completions) == 8 and all(name.startswith("emma") for name, _ in completions)
        await pilot.press("7")
        await until(pilot, lambda: "not in the vocabulary" in view_text(app), what="the refusal of '7'")


@pytest.mark.slow
async def test_health_view_shows_saturation_and_ratios(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(100, 30)) as pilot:
        await running(pilot, harness)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HealthView) and getattr(app.screen, "last", None),
                    what="the health data")
        last = app.screen.last
        text = view_text(app)
        m = re.search(r"saturated tanh \(\|h\| > 0\.97\): ([\d.]+)%", text)
        assert m and float(m.group(1)) == round(100 * last["saturated"], 1)
        assert f"of {32}" in text
        for name in ("C", "W1", "b1", "W2", "b2"):
            assert re.search(rf"^\W*{name}\s+-?\d+\.\d\d\s+-?\d+\.\d\d", text, re.M), name
        assert all(math.isfinite(v) for v in last["update_ratio"].values())
        assert harness.pump.watch == {"health"}


@pytest.mark.slow
async def test_the_health_view_of_an_ensemble_says_it_reads_the_members(harness: Harness) -> None:
    """An ensemble's report is its members' (core.probes.ensemble), labelled so, with a column per member."""
    app = harness.app(hidden=32, members=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HealthView) and getattr(app.screen, "last", None),
                    what="the health data")
        last, text = app.screen.last, view_text(app)
        assert "(the members' mean)" in text and "reads the 2 members" in text, text
        assert "all members' hidden activations" in text and "copies of its 2 members" in text, text
        losses = re.search(r"batch loss\s+(\d\.\d{4})\s+(\d\.\d{4})", text)
        assert losses and [float(v) for v in losses.groups()] == [round(m[1], 4) for m in last["members"]]
        assert last["n_hidden"] == 32 and [m[4] for m in last["members"]] == [16, 16]


@pytest.mark.slow
async def test_dataset_view_describes_the_file(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(100, 30)) as pilot:
        await running(pilot, harness)
        await pilot.press("d")
        await until(pilot, lambda: f"{len(WORDS)} words" in view_text(app), what="the dataset view")
        text = view_text(app)
        assert "vocabulary: 27 characters" in text
        assert re.search(r"train\s+56\s", text)  # 80% of 70 words
        assert "word lengths" in text and "most common characters" in text


@pytest.mark.slow
async def test_runs_are_saved_listed_continued_and_compared(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 36)) as pilot:
        await running(pilot, harness, min_step=300)
        await pause_app(pilot)
        first = app.run_path
        # the app hears "paused" before the save that follows it (core.link.pump's _pause)
        await until(pilot, lambda: read_info(first)["status"] == "paused", what="the run saved as paused")
        first_steps = read_info(first)["step"]
        assert first_steps == harness.trainer.step and len(read_losses(first)) == first_steps
        await pilot.press("r")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "ConfirmScreen", what="the question")
        await pilot.press("y")
        await until(pilot, lambda: app.run_path not in (None, first) and app.status == "running",
                    what="a fresh run")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, RunsView), what="the runs view")
        screen = app.screen
        names = [r.path.name for r in screen.runs]
        assert Path(first).name in names and Path(app.run_path).name in names
        assert "▶" in view_text(app)
        row = names.index(Path(first).name)
        screen.query_one("DataTable").move_cursor(row=row)
        await pilot.press("c")
        assert app.compared_runs() == [first]
        await until(pilot, lambda: bool(app.query_one("LossPlot").overlays), what="the overlay (read in a thread)")
        assert app.query_one("LossPlot").overlays[0][0] == Path(first).name
        await pilot.press("enter")
        await until(pilot, lambda: app.run_path == first and app.status == "paused", timeout=10,
                    what="the first run to be loaded")
        assert harness.trainer.step == first_steps
        await pilot.press("space")
        await until(pilot, lambda: harness.trainer.step > first_steps + 100, what="the loaded run to train on")
        await pause_app(pilot)
        assert len(read_losses(first)) == harness.trainer.step == read_info(first)["step"]


@pytest.mark.slow
async def test_a_tiny_terminal_shows_a_notice_and_recovers(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(40, 12)) as pilot:
        await running(pilot, harness)
        text = view_text(app)
        assert "terminal too small (40x12)" in text
        assert "Controls" not in text
        for size in ((100, 30), (45, 15), (80, 24), (40, 12), (120, 40)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
        assert "Controls" in view_text(app) and "too small" not in view_text(app)
        assert app.status == "running"


@pytest.mark.slow
async def test_every_view_opens_from_the_palette_at_80x24(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness)
        # a word of each command's name is enough to put it first (each key typed re-runs the palette's search:
        # the commands' whole names took 59 keys and most of this test's 20 s)
        for query, cls in (("embedding", EmbeddingsView), ("learning", LRFindView), ("score", ScoringView),
                           ("health", HealthView)):
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*query)
            await pilot.pause(0.3)
            await pilot.press("enter")
            await until(pilot, lambda cls=cls: isinstance(app.screen, cls), what=cls.__name__)
            assert cls.TITLE in view_text(app).split("\n")[0]
            region = app.screen.query_one(".view-title").content_region  # the hint wraps at 80 columns, never cut
            rows = screen_text(app).split("\n")[region.y : region.bottom]
            title = " ".join(" ".join(row[region.x : region.right] for row in rows).split())
            assert title == " ".join(f"{cls.TITLE} {cls.HINT}".split()), title
            await pilot.press("escape")
            await until(pilot, lambda cls=cls: not isinstance(app.screen, cls), what="back")


@pytest.mark.slow
async def test_a_preset_from_the_command_line_shows_in_the_selector(harness: Harness) -> None:
    from apphelpers import toasts

    from core.config import PRESETS

    best = PRESETS["best"]
    app = harness.app(preset="best", block_size=best["block_size"], emb_dim=best["n_embd"], hidden=32,
                      lr=best["lr"], optimizer="adamw", batch_size=best["batch_size"])
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await running(pilot, harness)
        assert app.query_one("#preset").value == "best"
        assert harness.trainer.model_config.block_size == best["block_size"]
        assert not any("applied to the running model" in t for t in toasts(app))  # the start is not a choice
        app.query_one("#preset").value = "lecture"  # a real choice fills the form
        await until(pilot, lambda: app.query_one("#f-block_size").value == "3", what="the lecture's context")
        await until(pilot, lambda: harness.trainer.config.lr == 0.1, what="the lecture's lr, applied live")


@pytest.mark.slow
async def test_an_unreadable_compared_run_is_told_once_and_leaves_the_comparison(harness: Harness, tmp_path) -> None:
    """Its losses file cannot be read: one error, and the run is no longer compared, so a later redraw of
    the overlays (another run compared) does not repeat the error."""
    broken = tmp_path / "broken"
    (broken / "losses.f32").mkdir(parents=True)  # a folder where the file should be
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await running(pilot, harness, min_step=50)
        assert app.toggle_compare(str(broken)) is True
        await until(pilot, lambda: not app.compared_runs(), what="the unreadable run to leave the comparison")
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1 and "losses" in errors[0].message, [n.message for n in errors]
        await pause_app(pilot)
        app.toggle_compare(app.run_path)
        await until(pilot, lambda: bool(app.query_one("LossPlot").overlays), what="the live run's overlay")
        assert len([n for n in app._notifications if n.severity == "error"]) == 1

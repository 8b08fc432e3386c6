"""The Textual app, driven with Pilot: keys, fields, reset, panes, divergence, layout and quitting.

The trainer runs in a thread of the test process (TrainerThread) on a 70-word list, so each test
starts in well under a second and can read the Trainer itself, not only what the app shows.
"""
from __future__ import annotations

import math
import re

import pytest
from apphelpers import (
    Harness,
    params,
    params_of,
    pause_app,
    running,
    screen_text,
    status_step,
    text_of,
    toasts,
    type_into,
    until,
    words_of,
)

from tui.panes.plot import LossPlot
from tui.panes.samples import SamplesPane
from tui.panes.splits import SplitLosses
from tui.screens import ConfirmScreen
from tui.views import ViewScreen


@pytest.mark.slow
async def test_space_pauses_and_resumes(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness)
        assert text_of(app, "#status").strip().startswith("running")

        await pilot.press("space")
        await until(pilot, lambda: "paused" in text_of(app, "#status"), what="the status to say paused")
        assert app.status == "paused"
        assert harness.pump.session.snapshot().status == "paused" and not harness.pump.session.running
        assert not harness.pump.active

        await pilot.press("space")
        await until(pilot, lambda: "running" in text_of(app, "#status"), what="the status to say running")
        assert harness.pump.session.status == "running"
        assert harness.pump.active


@pytest.mark.slow
async def test_invalid_values_show_their_reason_and_are_not_applied(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness)
        await pause_app(pilot)
        trainer = harness.trainer

        for text, reason in (("abc", "a number"), ("-1", "must be > 0")):
            await type_into(pilot, "lr", text)
            await pilot.press("escape")  # leaving the field applies a valid live value: not this one
            await pilot.pause(0.1)
            assert reason in text_of(app, "#err-lr"), text
            assert app.query_one("#row-lr").has_class("-invalid")
            assert trainer.config.lr == 0.1 and trainer.lr == 0.1
            assert app.values["lr"] == 0.1 and "lr 0.1 " in text_of(app, "#status")
        assert not toasts(app)  # no "lr = ...: applied to the running model" either

        await type_into(pilot, "n_hidden", "0", then="escape")
        await pilot.pause()
        assert "must be >= 1" in text_of(app, "#err-n_hidden")
        assert "fix the fields above" in params_of(app)
        await pilot.press("r")  # refused: no new model with a bad field
        await until(pilot, lambda: any("fix these first" in t for t in toasts(app)), what="the refusal")
        assert any("hidden (must be >= 1)" in t for t in toasts(app))
        assert not isinstance(app.screen, ConfirmScreen)
        assert harness.trainer is trainer and trainer.model_config.n_hidden == 32

        await type_into(pilot, "lr", "0.2")  # a valid value clears the reason
        await until(pilot, lambda: harness.trainer.lr == 0.2, what="lr 0.2 to reach the trainer")
        assert text_of(app, "#err-lr").strip() == ""
        assert not app.query_one("#row-lr").has_class("-invalid")


@pytest.mark.slow
async def test_learning_rate_field_applies_to_the_running_trainer(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness)
        trainer = harness.trainer
        assert trainer.lr == 0.1
        await type_into(pilot, "lr", "0.05")
        await until(pilot, lambda: trainer.lr == 0.05, what="the trainer's lr to become 0.05")
        assert trainer.config.lr == 0.05
        assert harness.trainer is trainer  # the same model, not a fresh one
        await until(pilot, lambda: "lr 0.05 " in text_of(app, "#status"), what="the status to show lr 0.05")
        step = trainer.step
        await until(pilot, lambda: trainer.step > step, what="training to go on")
        assert app.status == "running"


@pytest.mark.slow
async def test_reset_with_a_new_block_size_rebuilds_the_model(harness: Harness) -> None:
    app = harness.app()  # the lecture's model: block 3, embedding 10, hidden 200
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness)
        vocab = len(app.info["vocab"])
        assert vocab == 27
        assert "11,897 parameters" in params_of(app)
        assert harness.trainer.model.num_params() == params(27, 3) == 11_897
        old = harness.trainer

        await type_into(pilot, "block_size", "5", then="escape")
        expected = params(vocab, 5)
        assert f"{expected:,} parameters" in params_of(app)  # the count follows the form
        assert "context" in text_of(app, "#pending") and "press r" in text_of(app, "#pending")
        assert harness.trainer is old  # nothing applied yet

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        # the app's own news of the fresh model (frames of the old one may still be in its queue)
        await until(pilot, lambda: app.info["params"] == expected and app.status == "running",
                    what="a fresh model to train")
        new = harness.trainer
        assert new.model_config.block_size == 5 and new.data.block_size == 5
        assert new.model.num_params() == expected
        assert f"{expected:,} parameters" in params_of(app)
        assert f"{expected:,} parameters" in app.sub_title
        assert text_of(app, "#pending").strip() == ""


@pytest.mark.slow
async def test_samples_pane_fills_with_names_from_the_vocabulary(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(SamplesPane)
        await until(pilot, lambda: bool(pane.names) and app.info is not None, what="samples")
        letters = set(app.info["vocab"][1:])  # index 0 is the boundary token, never inside a name
        assert letters == set("abcdefghijklmnopqrstuvwxyz")
        assert len(pane.names) == 8
        for name in pane.names:
            assert set(name) <= letters, name
        # the screen is composed after the pane takes the batch (a loaded machine failed a read made at once)
        await until(pilot, lambda: "step 0" in text_of(app, "#samples")
                    and any(name and name[:10] in text_of(app, "#samples") for name in pane.names),
                    what=f"a name of the batch of step 0 on screen (names {pane.names[:8]})")

        await running(pilot, harness, min_step=100)
        await pilot.press("s")
        await until(pilot, lambda: len(pane.batches) >= 2, what="a second batch of samples")
        assert pane.batches[0][0] > 0  # the newest batch is at the top, from a trained model
        assert all(set(name) <= letters for name in pane.names)


@pytest.mark.slow
async def test_split_losses_show_three_finite_numbers_after_evaluate(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness, min_step=100)
        await pause_app(pilot)
        splits = app.query_one(SplitLosses)
        await until(pilot, lambda: splits.history and splits.history[-1][0] == harness.trainer.step,
                    what="the evaluation at pause")
        n = len(splits.history)
        await pilot.press("e")
        await until(pilot, lambda: len(splits.history) == n + 1, what="the evaluation of key e")

        step, losses, coverage = splits.history[-1]
        assert step == harness.trainer.step and coverage == "full"
        shown = {}
        for split in ("train", "dev", "test"):
            m = re.search(rf"^{split}\s+(\S+)", text_of(app, "#splits"), re.MULTILINE)
            assert m, f"no {split} row in the split-loss pane"
            shown[split] = float(m.group(1))
            assert math.isfinite(shown[split]) and shown[split] > 0
            assert shown[split] == pytest.approx(losses[split], abs=1e-4)
        assert f"at step {step:,}" in screen_text(app)  # the border of the pane


@pytest.mark.slow
async def test_step_count_grows_while_running_and_stops_while_paused(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness)
        first = status_step(app)
        await until(pilot, lambda: status_step(app) > first, what="the step count to grow")

        await pause_app(pilot)
        await pilot.pause(0.1)
        paused_at = status_step(app)
        assert paused_at == harness.trainer.step
        await pilot.pause(0.5)
        assert status_step(app) == paused_at
        assert harness.trainer.step == paused_at


@pytest.mark.slow
async def test_a_diverging_run_pauses_and_suggests_a_lower_learning_rate(harness: Harness) -> None:
    app = harness.app(lr=50.0, init="lecture", hidden=32)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until(pilot, lambda: app.status == "diverged", timeout=15, what="the divergence to be caught")
        trainer = harness.trainer
        assert trainer.snapshot().status == harness.pump.session.status == "diverged"
        assert not harness.pump.active
        step = trainer.step
        await until(pilot, lambda: "diverged" in text_of(app, "#status"), what="the status to say diverged")
        await until(pilot, lambda: any("lower learning rate" in t for t in toasts(app)),
                    what="the message on screen")
        assert "lower learning rate" in app.last_error
        await pilot.pause(0.3)
        assert trainer.step == step  # paused: nothing more was trained
        assert all(math.isfinite(p.detach().abs().sum().item()) for p in trainer.model.parameters())
    # leaving run_test re-raises any exception the app had: none


@pytest.mark.slow
async def test_layout_at_80_by_24_shows_every_pane(harness: Harness) -> None:
    app = harness.app(hidden=32)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness, min_step=100)
        await until(pilot, lambda: bool(app.query_one(SamplesPane).names)
                    and bool(app.query_one(SplitLosses).history), what="samples and split losses")
        await until(pilot, lambda: bool(app.query_one(LossPlot).steps), what="the plot's data")

        def curve_drawn() -> bool:  # the curve's braille dots; the plot redraws on a timer, late on a busy machine
            return any("\u2801" <= ch <= "\u28ff" for ch in text_of(app, "#plot"))

        try:
            await until(pilot, curve_drawn, what="the curve on screen")
        except AssertionError as e:
            raise AssertionError(f"{e}; the plot shows:\n{text_of(app, '#plot')}") from None
        screen = app.screen.region
        regions = {}
        for selector in ("#controls", "#plot", "#splits", "#samples", "#status"):
            r = app.query_one(selector).region
            assert r.width > 0 and r.height > 0, selector
            assert screen.contains_region(r), (selector, r)
            regions[selector] = r
        for a in regions:
            for b in regions:
                assert a == b or not regions[a].overlaps(regions[b]), (a, b)
        text = screen_text(app)
        for title in ("Controls", "Loss (log10)", "Split losses", "Samples"):
            assert title in text, title
        assert "step" in text_of(app, "#status") and "running" in text_of(app, "#status")
        assert re.search(r"^dev\s+\d+\.\d{4}", text_of(app, "#splits"), re.MULTILINE)
        assert "step" in text_of(app, "#samples")


@pytest.mark.slow
async def test_a_view_key_typed_while_quitting_opens_nothing(harness: Harness) -> None:
    """q then t typed fast (tui-look -k question_mark sends the letters): the sweeps view mounted on a quitting
    app found its tables gone and crashed with a traceback. Now no view opens once quitting has begun."""
    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness, min_step=100)
        app.shutdown()  # what q does first, before Textual's exit
        await app.run_action("view('sweeps')")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ViewScreen)
        assert app.return_code in (None, 0)


# ---- the key table (tui/keys.py): the footer's bindings, the palette and the help come from it ----
def help_text() -> str:
    """The help screen's content as plain text, wide enough that no line wraps."""
    import io

    from rich.console import Console

    from tui.screens import help_content

    console = Console(width=240, record=True, file=io.StringIO())
    console.print(help_content())
    return console.export_text()


def test_every_binding_is_in_the_help() -> None:
    """Each key of the app's BINDINGS (and Textual's palette key) has its own line in the help: the key as a
    person types it, then what it does."""
    from textual.app import App

    from tui.app import MLPApp

    lines = help_text().splitlines()
    shown = {"question_mark": "?"}
    keys = [b.key for b in MLPApp.BINDINGS] + [App.COMMAND_PALETTE_BINDING]
    for key in keys:
        words = [line.split(maxsplit=1) for line in lines]
        described = [w[1] for w in words if len(w) == 2 and w[0] == shown.get(key, key)]
        assert described, f"{key} is not in the help"


def test_the_palette_lists_every_action_with_its_key() -> None:
    """Every bound action but leaving a field has a palette entry, which names its key."""
    import asyncio

    from tui.app import MLPApp
    from tui.keys import KEYS
    from tui.palette import MLPCommands

    class Screen:  # what a Provider reads of its screen: the app
        def __init__(self, app: MLPApp) -> None:
            self.app = app

    app = MLPApp({})

    async def hits() -> list:
        provider = MLPCommands(Screen(app))  # type: ignore[arg-type]
        return [h async for h in provider.discover()]

    found = {(str(h.display), h.help) for h in asyncio.run(hits())}
    wanted = {(k.palette, f"key: {k.label}") for k in KEYS if k.palette is not None}
    assert found == wanted
    in_palette = {k.action for k in KEYS if k.palette is not None}
    for b in MLPApp.BINDINGS:
        assert b.action in in_palette or b.action == "leave_field", f"{b.key} ({b.action}) is not in the palette"


def test_the_help_lists_every_preset_and_every_field() -> None:
    """Every preset with its note; every field of the form as live (applies to the running model) or as
    needing a fresh model; the command-line-only settings by flag."""
    from core import settings

    text = " ".join(help_text().split())
    for name, note in settings.PRESET_NOTES.items():
        assert f"{name} {' '.join(note.split())}" in text, name
    assert set(settings.PRESET_NOTES) == set(settings.PRESETS)
    live, _, rest = text.partition("apply to the running model")
    fresh, _, _ = rest.partition("need a fresh model")
    live = live.rpartition("never applied.")[2]
    for s in settings.SETTINGS:
        if s.form:
            assert f"{s.label}," in (live if s.live else fresh) or f"{s.label} " in (live if s.live else fresh), s.name
        elif s.cli:
            assert s.flag in text, s.name


async def test_question_mark_opens_the_help_which_scrolls_at_80x24(harness: Harness) -> None:
    from tui.screens import HelpScreen

    app = harness.app(hidden=32)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        assert "pause / resume training" in screen_text(app)
        await pilot.press("end")
        await until(pilot, lambda: "Split losses" in screen_text(app), what="the help's last section")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="back")


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (130, 40)])
async def test_the_split_panes_notes_are_whole(harness: Harness, size) -> None:
    """At 80x24 the table's caption was cut after its second line (the counts and the initial loss never showed,
    "best dev" broke in two). Now the notes that fit are shown whole, short forms where room is short, the step
    of the evaluation in the border; the rest whole at a larger size."""
    app = harness.app(hidden=32)
    async with app.run_test(size=size) as pilot:
        await running(pilot, harness, min_step=100)
        splits = app.query_one(SplitLosses)
        await until(pilot, lambda: bool(splits.history) and splits.counts is not None, what="losses and counts")
        await pause_app(pilot)
        await until(pilot, lambda: splits.history[-1][0] == harness.trainer.step, what="the evaluation at pause")
        await pilot.pause(0.1)
        region = splits.content_region
        needed = splits.get_content_height(region.size, app.size, region.width)
        assert needed <= region.height, (needed, region.height, text_of(app, "#splits"))
        text = text_of(app, "#splits")
        best, step = splits.best
        assert re.search(rf"^best dev {best:.4f} @{step:,}\s*$", text, re.MULTILINE), text
        dev = f"{splits.counts.losses['dev']:.4f}"
        if size == (80, 24):
            assert re.search(rf"^\d-gram counts dev {dev}\s*$", text, re.MULTILINE), text
        else:
            words = words_of(app, "#splits")
            assert "entries used" in words and "a uniform guess is" in words, words
        assert f"at step {splits.history[-1][0]:,}" in screen_text(app)  # in the border


@pytest.mark.slow
async def test_the_status_line_wraps_whole_at_80x24(harness: Harness) -> None:
    """Done, the status line ran past 80 columns and lost its end ("done: raise steps to go on"): it wraps."""
    app = harness.app(hidden=16, steps=300)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.status == "done", timeout=30, what="the run to finish")
        await pilot.pause(0.3)
        status = words_of(app, "#status")
        assert status.startswith("done") and status.endswith("done: raise steps to go on"), status
        assert "ETA" in status and "step 300/300" in status


@pytest.mark.slow
async def test_the_status_line_lays_the_screen_out_only_when_its_lines_change(harness: Harness, monkeypatch) -> None:
    """It changes ten times a second while training, and a layout of the whole screen each time cost the UI ~0.06 of
    a core: it asks for one only when its text takes another number of lines (it wraps at 80 columns)."""
    from tui.panes.status import StatusLine

    app = harness.app(n_hidden=32)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness, min_step=50)
        status = app.query_one(StatusLine)
        asked: list[bool] = []
        update = status.update

        def recorded(markup: str, *, layout: bool = True) -> None:
            asked.append(layout)
            update(markup, layout=layout)

        monkeypatch.setattr(status, "update", recorded)
        await pilot.pause(1.5)
        assert len(asked) >= 5 and not any(asked), asked  # the step changed; the line stayed one line
        status.show(app.snapshot, "running and a long message that cannot fit on one line at eighty columns", 1.0)
        assert asked[-1] is True and status.rows == 2
        at = len(asked)
        await pilot.pause(0.5)  # the next polls: one line again, laid out once
        assert asked[at] is True and len(asked) > at + 1 and not any(asked[at + 1:]), asked[at:]
        assert status.rows == 1 and status.size.height == 1


@pytest.mark.slow
async def test_a_costly_models_first_losses_are_labelled_samples_and_full_later(harness: Harness, monkeypatch) -> None:
    """The split pane marks a costly model's first evaluation (core.engine.policy: FIRST_SPLIT_WORK) as samples,
    dev*, test* and train*, says dev and test come in full next, and drops the marks once they are in full."""
    import core.engine.session

    monkeypatch.setattr(core.engine.session, "FIRST_SPLIT_WORK", 1)  # every split costly: samples of one row
    monkeypatch.setattr(core.engine.session, "EVAL_INTERVAL", 1e9)  # nothing scheduled: the first losses stay
    app = harness.app(hidden=32, members=2)
    async with app.run_test(size=(160, 48)) as pilot:
        await running(pilot, harness, min_step=50)
        splits = app.query_one(SplitLosses)
        await until(pilot, lambda: bool(splits.history), what="the first evaluation")
        await pilot.pause(0.3)
        text = words_of(app, "#splits")
        assert splits.history[-1][0] == 0 and "train* " in text and "dev* " in text and "test* " in text, text
        assert "* on fixed samples, so that training starts at once; in full from the next evaluation" in text, text
        await pause_app(pilot)
        await until(pilot, lambda: splits.history[-1][0] == harness.trainer.step, what="the evaluation at pause")
        await pilot.pause(0.3)
        text = words_of(app, "#splits")
        assert "dev* " not in text and "test* " not in text and "in full from the next" not in text, text


@pytest.mark.slow
async def test_an_ensembles_split_losses_and_plot_are_on_one_footing(harness: Harness) -> None:
    """An ensemble's train, dev and test are its averaged logits' (the split pane says so); the plot labels its line
    the members' mean and draws the evaluated train losses beside dev, both the ensemble's."""
    app = harness.app(hidden=32, members=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, harness, min_step=50)
        await pause_app(pilot)
        splits, plot = app.query_one(SplitLosses), app.query_one(LossPlot)
        await until(pilot, lambda: splits.history[-1][0] == harness.trainer.step, what="the evaluation at pause")
        await pilot.pause(0.3)
        step, losses, _ = splits.history[-1]
        assert "all three: ensemble of 2" in text_of(app, "#splits")
        assert plot.members == 2 and plot.train_evals[-1] == (step, losses["train"]) and plot.dev[-1] == (
            step, losses["dev"])
        plot.redraw()
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "train: members' mean" in text and "train: ensemble" in text and "dev: ensemble" in text, text

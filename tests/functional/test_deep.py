"""Deep layouts (layers, batch norm, hier) in the app and on the command line (the kernel against autograd:
tests/unit/test_deep.py)."""

from __future__ import annotations

import pytest

from core.config import MLPConfig


@pytest.mark.slow
async def test_a_deep_model_in_the_app_health_lr_finder_and_the_form(harness) -> None:
    from apphelpers import params_of, running, toasts, type_into, until, words_of

    from tui.views.health import HealthView
    from tui.views.lrfind import LRFindView

    app = harness.app(layers=3, n_hidden=24, batchnorm=True, init="kaiming")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await running(pilot, harness, min_step=200)
        want = MLPConfig(vocab_size=27, layers=3, n_hidden=24, batchnorm=True).num_params()
        assert f"{want:,} parameters" in params_of(app) and harness.trainer.model.num_params() == want
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HealthView) and getattr(app.screen, "last", None),
                    what="the health data")
        rows = app.screen.last["per_layer"]
        assert [r[0] for r in rows] == [1, 2, 3] and all(r[5] == 24 for r in rows)  # one row per hidden layer
        text = str(app.screen.query_one("#health-out").render())
        assert "layer" in text and "W3" in text and "bngain3" in text
        await pilot.press("escape", "f")
        await until(pilot, lambda: isinstance(app.screen, LRFindView) and app.screen.suggestion is not None,
                    timeout=60, what="the lr finder on a deep model")
        assert 1e-3 <= app.screen.suggestion <= 1.0
        await pilot.press("escape")
        # the registry's rule, in the form as on the command line: hier needs a power-of-two context
        await type_into(pilot, "block_size", "6", then="escape")
        app.query_one("#f-arch").value = "hier"
        await pilot.pause(0.2)
        assert "power of two" in words_of(app, "#row-block_size") + " " + words_of(app, "#err-block_size")
        assert "fix the fields above" in params_of(app)  # (scrolled out of view here)
        await pilot.press("r")
        await until(pilot, lambda: any("power of two" in t for t in toasts(app)), what="the reset refused")


def test_hier_with_a_context_that_is_not_a_power_of_two_is_one_line(capsys, words_file, tmp_path):
    from conftest import assert_cli_error, run_cli

    code, _, err = run_cli(capsys, ["train", "--data", str(words_file), "--arch", "hier", "--block-size", "6",
                                    "--out", str(tmp_path / "r"), "--quiet"])
    assert_cli_error(code, err, "power of two", "not 6")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
async def test_an_on_off_field_flips_with_enter_and_waits_for_a_reset(harness) -> None:
    from apphelpers import params_of, running, until, words_of

    from tui.panes.toggle import Toggle

    app = harness.app(hidden=32)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness)
        field = app.query_one("#f-direct", Toggle)
        assert field.value is False
        field.focus()
        await pilot.press("enter")
        assert field.value is True and harness.pump.session.running  # enter flipped it; space did not pause
        await until(pilot, lambda: "direct" in words_of(app, "#pending"), what="the needs-a-fresh-model note")
        want = MLPConfig(vocab_size=27, n_hidden=32, direct=True).num_params()
        await until(pilot, lambda: f"{want:,} parameters" in params_of(app),
                    what="the count with direct connections")
        await pilot.press("space")  # a flip back with space, as a checkbox
        assert field.value is False

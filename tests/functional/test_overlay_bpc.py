"""In the app: comparing a character run while a word model of the same running text trains switches the plot to bits
per character (both curves converted by their own characters per token, the title says so), and clearing the
comparison brings the losses back."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from apphelpers import Harness, running, until
from conftest import run_cli

from core.runs.folder import read_info, read_losses

LINES = ["the cat sat on the mat .", "the dog sat on the log .", "a cat ran to the dog ."] * 20


@pytest.mark.slow
async def test_runs_of_different_tokens_are_compared_in_bits_per_character(harness: Harness, capsys, tmp_path) -> None:
    harness.data = tmp_path / "t.txt"
    harness.data.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    chars = Path(os.environ["MLP_TUI_RUNS_DIR"]) / "chars"
    code, _, err = run_cli(capsys, ["train", "--data", str(harness.data), "--format", "text", "--tokens", "chars",
                                    "--steps", "40", "--n-hidden", "16", "--out", str(chars), "--quiet"])
    assert code == 0, err
    ratio = read_info(chars)["chars_per_token"]["train"]
    assert ratio == pytest.approx(1.0)
    app = harness.app(hidden=16, n_embd=8, format="text", tokens="words", min_count=2, steps=10**9)
    async with app.run_test(size=(100, 30)) as pilot:
        await running(pilot, harness)
        plot = app.query_one("LossPlot")
        assert plot.unit == "loss"
        app.toggle_compare(str(chars))
        await until(pilot, lambda: plot.unit == "bpc" and bool(plot.overlays), what="the plot in bits per character")
        words = harness.trainer.data
        w_ratio = words.chars["train"] / len(words.Y["train"])  # a word of this text: ~3.6 characters with its space
        assert plot.shift[0] == pytest.approx(-math.log10(math.log(2) * w_ratio))
        label, _, vals = plot.overlays[0]
        raw = read_losses(str(chars))  # log10 losses per step
        assert label == "chars" and vals[0] == pytest.approx(float(raw[0]) - math.log10(math.log(2) * ratio), abs=1e-5)
        plot.redraw()
        assert plot.border_title.startswith("Bits per character (log10)")
        app.clear_compare()
        await until(pilot, lambda: plot.unit == "loss" and not plot.overlays, what="losses again")

"""`mlp-tui ngram` and the counts row in the app (the counting itself: tests/unit/test_ngram.py)."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_cli

from core.probes.ngram import count_model


def test_the_ngram_command_prints_json(capsys):
    code, out, _ = run_cli(capsys, ["ngram", "--data", "names", "--order", "3", "--k", "0.1"])
    d = json.loads(out)
    assert code == 0 and d["order"] == 3 and d["k"] == 0.1 and d["table_entries"] == 27**3
    assert set(d["losses"]) == {"train", "dev", "test"} and 0 <= d["unseen_dev_share"] <= 1


@pytest.mark.slow
async def test_the_split_pane_shows_the_counts_and_the_initial_loss(harness) -> None:
    from apphelpers import running, until, words_of

    app = harness.app(hidden=32)
    async with app.run_test(size=(130, 40)) as pilot:
        await running(pilot, harness)
        await until(pilot, lambda: "counts" in words_of(app, "#splits") and "initial loss" in words_of(app, "#splits"),
                    what="the counts row")
        text = words_of(app, "#splits")
        m = count_model(harness.trainer.data)
        assert f"{m.losses['dev']:.4f}" in text and f"{m.order}-gram" in text
        assert f"a uniform guess is {math.log(27):.2f}" in text

"""Overlays of runs of different kinds of token in bits per character (core.runs.overlay): the conversion of a
log10 loss by each run's characters per token, by hand; one kind keeps its losses; a run without the ratio is left
out with a line that says so, and a current run without it keeps the plot in losses."""

from __future__ import annotations

import math

import pytest

from core.measures import loss_to_bpc
from core.runs.overlay import BPC_UNIT, LOSS_UNIT, Scale, plan, run_scale, shifted, token_kind

WORDS = Scale("words", {"train": 4.5, "dev": 4.4})
CHARS = Scale("chars", {"train": 1.0, "dev": 1.0})


def test_a_log10_loss_becomes_log10_bits_per_character_by_the_runs_own_ratio():
    # a word model's loss of 5.0 nats per word at 4.5 characters per word: 5 / ln 2 / 4.5 = 1.603 bits per character
    (v,) = shifted([math.log10(5.0)], WORDS.shift("train"))
    assert 10**v == pytest.approx(5.0 / math.log(2) / 4.5) == pytest.approx(1.6030, abs=1e-4)
    assert 10**v == pytest.approx(loss_to_bpc(5.0, 4.5))
    # a character model's loss of 1.2 nats per character: 1.2 / ln 2 = 1.731 bits per character
    (c,) = shifted([math.log10(1.2)], CHARS.shift("train"))
    assert 10**c == pytest.approx(1.7312, abs=1e-4)
    assert Scale("words").shift() is None and Scale("words", {"train": 0.0}).shift() is None


def test_runs_of_one_kind_keep_their_losses():
    p = plan(CHARS, {"a": CHARS, "b": Scale("chars")})  # even one without the ratio: nothing is converted
    assert p.unit == LOSS_UNIT and p.live == (0.0, 0.0) and p.shifts == {"a": 0.0, "b": 0.0} and not p.note


def test_runs_of_different_kinds_are_plotted_in_bits_per_character():
    p = plan(WORDS, {"chars run": CHARS, "old words run": Scale("words"), "bpe": Scale("bpe 1000", {"train": 3.0})})
    assert p.unit == BPC_UNIT
    assert p.live == (pytest.approx(-math.log10(math.log(2) * 4.5)), pytest.approx(-math.log10(math.log(2) * 4.4)))
    assert p.shifts["chars run"] == pytest.approx(-math.log10(math.log(2)))
    assert p.shifts["bpe"] == pytest.approx(-math.log10(math.log(2) * 3.0))
    assert p.shifts["old words run"] is None  # no ratio: left out, and said in one line
    assert "1 run without characters per token" in p.note and "old words run" in p.note and "\n" not in p.note


def test_a_current_run_without_the_ratio_keeps_the_plot_in_losses():
    p = plan(Scale("chars"), {"w": WORDS})  # a word list of names against a word model of running text
    assert p.unit == LOSS_UNIT and p.shifts == {"w": 0.0}
    assert "losses per token are plotted" in p.note and "chars, words" in p.note


def test_the_kind_and_ratio_are_read_from_run_json():
    info = {"data": {"format": "text", "tokens": "bpe", "bpe_vocab": 4000},
            "chars_per_token": {"train": 3.2, "dev": "x", "test": -1}}
    s = run_scale(info)
    assert s.kind == "bpe 4000" and dict(s.ratios) == {"train": 3.2}  # damaged values dropped
    assert run_scale({}).kind == "chars" and not run_scale({}).ratios  # an older run: lines of characters
    assert token_kind({"tokens": "bpe", "bpe_vocab": 1000}) != token_kind({"tokens": "bpe", "bpe_vocab": 4000})

"""tui.cli's parsers: every flag has help, the defaults are the configs', flags and presets become configs
(the commands themselves: tests/functional/test_cli.py)."""

from __future__ import annotations

import argparse

import pytest

from core.engine.train import TrainConfig
from core.model import MLPConfig
from tui.cli import DEFAULTS, build_parsers, configs_from_settings, resolve_settings


def test_every_flag_has_help():
    for name, parser in build_parsers().items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help.strip(), (name, action.option_strings)


def test_defaults_mirror_the_configs():
    m, t = MLPConfig(), TrainConfig()
    expected = {k: v for k, v in {**m.to_dict(), **t.to_dict()}.items() if k != "vocab_size"}
    data = {"dedupe": False, "format": "lines", "tokens": "chars", "min_count": 4, "lower": False,  # data settings
            "bpe_vocab": 4000}
    assert DEFAULTS == {**expected, **data}
    for name in ("train", "app"):
        settings = resolve_settings(build_parsers()[name].parse_args([]))
        assert settings == {**DEFAULTS, "data": "names"}, name


def test_flags_become_configs():
    args = build_parsers()["train"].parse_args(
        ["--block-size", "5", "--emb-dim", "4", "--hidden", "64", "--init", "kaiming", "--batch-size", "1_024",
         "--lr", "0.5", "--lr-decay", "0.2", "--decay-at", "7", "--steps", "100_000", "--seed", "0",
         "--optimizer", "adamw", "--weight-decay", "0.01", "--dropout", "0.2", "--schedule", "cosine",
         "--warmup", "10", "--minutes", "1.5", "--patience", "3", "--keep-best"])
    m, t = configs_from_settings(resolve_settings(args))
    assert (m.block_size, m.n_embd, m.n_hidden, m.init) == (5, 4, 64, "kaiming")
    assert t == TrainConfig(batch_size=1024, lr=0.5, lr_decay=0.2, decay_at=7, steps=100_000, seed=0,
                            optimizer="adamw", weight_decay=0.01, dropout=0.2, schedule="cosine", warmup=10,
                            minutes=1.5, patience=3, keep_best=True)


def test_presets_set_many_flags_and_explicit_flags_win():
    parse = build_parsers()["train"].parse_args
    m, t = configs_from_settings(resolve_settings(parse(["--preset", "best"])))
    assert (m.block_size, m.n_embd, m.n_hidden, m.members, m.init) == (12, 96, 2048, 4, "kaiming")
    assert (t.optimizer, t.batch_size, t.dropout, t.schedule, t.keep_best) == ("adamw", 32, 0.1, "cosine", True)
    m, t = configs_from_settings(resolve_settings(parse(["--preset", "single"])))
    assert (m.block_size, m.n_embd, m.n_hidden, m.members, t.dropout) == (12, 24, 512, 1, 0.2)
    m, t = configs_from_settings(resolve_settings(parse(["--preset", "best", "--hidden", "100", "--dropout", "0"])))
    assert m.n_hidden == 100 and t.dropout == 0.0 and t.optimizer == "adamw"
    m, t = configs_from_settings(resolve_settings(parse(["--preset", "kaiming"])))
    assert m.init == "kaiming" and t == TrainConfig()
    assert configs_from_settings(resolve_settings(parse(["--preset", "lecture"]))) == (MLPConfig(), TrainConfig())


def test_an_absurd_thread_count_is_refused():
    with pytest.raises(SystemExit) as e:  # parsing only: nothing is trained
        build_parsers()["train"].parse_args(["--threads", "100000"])
    assert e.value.code == 2

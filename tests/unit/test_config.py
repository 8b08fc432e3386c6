"""core.config: every bad value of every setting, and sizes that would not fit in memory, are refused by
name in one line (a ConfigError), before anything is allocated."""

from __future__ import annotations

import pytest
from conftest import assert_one_line
from helpers import INF, NAN

from core.config import MAX_BATCH, MAX_PARAMS, MLPConfig, TrainConfig
from core.errors import ConfigError

BAD_TRAIN = [
    ("batch_size", [0, -1, 1.5, "32", None, True, NAN, MAX_BATCH + 1]),
    ("steps", [0, -5, 2.5, "100", None, True, INF]),
    ("lr", [0, -0.1, NAN, INF, -INF, "0.1", None, True]),
    ("lr_decay", [0, -1, NAN, INF, "0.1"]),
    ("decay_at", [-1, 1.5, "10", NAN]),
    ("warmup", [-1, NAN, "5"]),
    ("patience", [-1, 0.5]),
    ("weight_decay", [-0.1, NAN, INF, "0", True]),
    ("dropout", [-0.1, 1, 1.5, NAN, INF, True, "0.2"]),
    ("beta1", [1, -0.1, NAN, True]),
    ("beta2", [1.0, INF]),
    ("minutes", [0, -1, NAN, INF, "5", True]),
    ("seed", [-1, 2**63, 1.5, "1", True]),
    ("optimizer", ["adam", "", None]),
    ("schedule", ["linear", None]),
]


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in BAD_TRAIN for v in vs],
                         ids=[f"{n}={v!r}" for n, vs in BAD_TRAIN for v in vs])
def test_train_config_refuses(name, value):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**{name: value}).validate()
    assert_one_line(e, name)


BAD_MODEL = [(n, [0, -1, 2.0, "10", None, True, NAN]) for n in ("vocab_size", "block_size", "n_embd", "n_hidden")]


BAD_MODEL += [("init", ["xavier", None]), ("batchnorm", ["yes", 1, None])]


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in BAD_MODEL for v in vs],
                         ids=[f"{n}={v!r}" for n, vs in BAD_MODEL for v in vs])
def test_model_config_refuses(name, value):
    with pytest.raises(ConfigError) as e:
        MLPConfig(**{name: value}).validate()
    assert_one_line(e, name)


@pytest.mark.parametrize(
    ("kw", "fragments"),
    [
        ({"block_size": 256, "n_hidden": 100_000, "n_embd": 4096},  # each at its bound; weights: 391 GiB
         ["would have 104,", "parameters", "GiB of weights", f"the limit is {MAX_PARAMS:,}", "hidden 100,000"]),
        ({"vocab_size": 1_112_064},  # every Unicode character in the data: W2 alone is 222M
         ["vocabulary 1,112,064", "parameters"]),
        ({"n_hidden": 100_000},  # 5.7M parameters pass, but one evaluation chunk would be ~18 GiB
         ["hidden 100,000", "for the activations of 8,192 examples at once (evaluation)", "limit is 4.0 GiB"]),
        ({"block_size": 128, "n_embd": 4096}, ["embedding 4,096", "activations"]),
        ({"vocab_size": 500_000, "n_hidden": 50}, ["vocabulary 500,000", "activations"]),
    ],
)
def test_absurd_model_sizes_are_refused_with_the_size(kw, fragments):
    with pytest.raises(ConfigError) as e:
        MLPConfig(**kw).validate()
    assert_one_line(e, *fragments)


def test_a_batch_too_large_for_the_model_is_refused_by_the_config():
    """Each valid alone: batch 65,536 and 20,000 hidden units; together ~30 GiB of (B, H) buffers."""
    model = MLPConfig(n_hidden=20_000)
    model.validate()
    with pytest.raises(ConfigError) as e:
        TrainConfig(batch_size=65_536).check_fits(model)
    assert_one_line(e, "hidden 20,000", "a training batch of 65,536", "GiB")
    TrainConfig(batch_size=65_536).check_fits(MLPConfig())  # the lecture's model takes the largest batch

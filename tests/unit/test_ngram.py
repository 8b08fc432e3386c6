"""core.probes.ngram: the counting baseline, by hand and on names; `mlp-tui ngram`; the counts row in the app."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from core.probes.ngram import count_model


def tiny_data():
    """Vocabulary '.ab', context 1 (a bigram model), splits written out by hand."""
    X = {"train": torch.tensor([[0], [1], [2], [0], [1]]), "dev": torch.tensor([[0], [1]]),
         "test": torch.tensor([[2]])}
    Y = {"train": torch.tensor([1, 2, 0, 1, 0]), "dev": torch.tensor([2, 2]), "test": torch.tensor([1])}
    return SimpleNamespace(X=X, Y=Y, vocab=list(".ab"), block_size=1)  # count_model needs len(vocab) only


def test_the_count_models_losses_equal_a_hand_computation():
    data = tiny_data()
    m = count_model(data, k=1.0)
    # train counts: after '.': a, a; after 'a': b, '.'; after 'b': '.'.  P(y|c) = (N(c,y) + 1) / (N(c) + 3)
    dev = -(math.log((0 + 1) / (2 + 3)) + math.log((1 + 1) / (2 + 3))) / 2  # b after '.', b after 'a'
    test = -math.log((0 + 1) / (1 + 3))  # a after 'b'
    train = -(2 * math.log(3 / 5) + math.log(2 / 5) + math.log(2 / 5) + math.log(2 / 4)) / 5
    assert m.losses["dev"] == pytest.approx(dev, abs=1e-12)
    assert m.losses["test"] == pytest.approx(test, abs=1e-12)
    assert m.losses["train"] == pytest.approx(train, abs=1e-12)
    assert m.order == 2 and m.table == 9 and m.used == 4 and m.contexts == 3 and m.unseen_dev == 0.0
    assert count_model(data).k in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # picked on dev


def test_counts_on_names_cannot_scale_with_context(names_data):
    """At block 3 (the lecture's context) a smoothed 4-gram is a strong baseline; past it, most contexts go unseen
    and counting falls behind the lecture MLP's dev loss of 2.17 (README, "The counting baseline")."""
    from core.data import Dataset

    m3 = count_model(names_data)
    assert 0 < m3.unseen_dev < 1 and m3.order == 4 and m3.table == 27**4 and m3.used < m3.table
    assert 2.0 < m3.losses["dev"] < 2.3
    m8 = count_model(Dataset.load("names", 8))
    assert m8.unseen_dev > 5 * m3.unseen_dev
    assert m8.losses["dev"] > 2.17 + 0.2  # the MLP at its own block 3 does better than counting at block 8


def test_the_tiny_preset_is_the_lectures_first_model():
    from core import settings
    from core.config import MLPConfig

    v = settings.resolve({}, "tiny")
    cfg = MLPConfig(vocab_size=27, **settings.values_for("model", v))
    assert (cfg.block_size, cfg.n_embd, cfg.n_hidden) == (3, 2, 100)
    assert cfg.num_params() == 3_481  # against 27^4 = 531,441 count-table entries

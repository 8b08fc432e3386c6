"""core.model: the Bengio MLP, its parameter count, initialisation and forward pass."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from core.errors import ConfigError
from core.model import MLP, MLPConfig, evaluating, split_loss


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"vocab_size": 27, "block_size": 3, "n_embd": 10, "n_hidden": 200}, 11897),  # makemore part 2
        ({"vocab_size": 27, "block_size": 3, "n_embd": 2, "n_hidden": 100}, 3481),  # its first version
        ({"vocab_size": 5, "block_size": 1, "n_embd": 1, "n_hidden": 1}, 5 + 1 + 1 + 5 + 5),
    ],
)
def test_parameter_count(kw, expected):
    cfg = MLPConfig(**kw)
    assert cfg.num_params() == expected
    model = MLP(cfg)
    assert model.num_params() == expected
    assert sum(p.numel() for p in model.parameters()) == expected


def test_default_config_is_the_lectures():
    cfg = MLPConfig()
    assert (cfg.vocab_size, cfg.block_size, cfg.n_embd, cfg.n_hidden, cfg.init) == (27, 3, 10, 200, "lecture")
    assert cfg.num_params() == 11897
    assert cfg.to_dict() == {"vocab_size": 27, "block_size": 3, "n_embd": 10, "n_hidden": 200, "init": "lecture",
                             "batchnorm": False, "arch": "flat", "layers": 1, "direct": False, "bn_out": False,
                             "members": 1}


def test_parameter_shapes():
    m = MLP(MLPConfig(vocab_size=7, block_size=4, n_embd=3, n_hidden=11))
    shapes = {name: tuple(p.shape) for name, p in m.named_parameters()}
    assert shapes == {"C": (7, 3), "W1": (12, 11), "b1": (11,), "W2": (11, 7), "b2": (7,)}


@pytest.mark.parametrize(
    "kw",
    [{"n_hidden": 0}, {"n_embd": -3}, {"block_size": 2.5}, {"vocab_size": True}, {"init": "xavier"},
     {"n_hidden": 10**6, "n_embd": 10**3}],
)
def test_bad_config_is_a_config_error(kw):
    cfg = MLPConfig(**kw)
    with pytest.raises(ConfigError) as e:
        cfg.validate()
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError):
        MLP(cfg)


def test_lecture_init_draws_like_the_lecture():
    # makemore part 2: g = torch.Generator().manual_seed(2147483647); C = torch.randn((27, 10), generator=g); ...
    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, 27), generator=g)
    b2 = torch.randn(27, generator=g)
    m = MLP(MLPConfig(), torch.Generator().manual_seed(2147483647))
    for mine, ref in zip((m.C, m.W1, m.b1, m.W2, m.b2), (C, W1, b1, W2, b2)):
        assert torch.equal(mine.detach(), ref)


def test_same_generator_seed_same_weights():
    a = MLP(MLPConfig(init="kaiming"), torch.Generator().manual_seed(1))
    b = MLP(MLPConfig(init="kaiming"), torch.Generator().manual_seed(1))
    c = MLP(MLPConfig(init="kaiming"), torch.Generator().manual_seed(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.W1, c.W1)


def test_kaiming_init_scales():
    g = torch.Generator().manual_seed(0)
    m = MLP(MLPConfig(n_hidden=400), g)
    k = MLP(MLPConfig(n_hidden=400, init="kaiming"), torch.Generator().manual_seed(0))
    assert torch.allclose(k.C, m.C)
    assert torch.allclose(k.W1, m.W1 * (5 / 3) / math.sqrt(30))
    assert torch.allclose(k.W2, m.W2 * 0.01)
    assert torch.equal(k.b2, torch.zeros(27))


def test_forward_shapes_and_loss():
    m = MLP(MLPConfig(vocab_size=9, block_size=4, n_embd=3, n_hidden=16), torch.Generator().manual_seed(0))
    idx = torch.randint(0, 9, (13, 4), generator=torch.Generator().manual_seed(1))
    targets = torch.randint(0, 9, (13,), generator=torch.Generator().manual_seed(2))
    logits, loss = m(idx)
    assert logits.shape == (13, 9) and loss is None
    logits2, loss2 = m(idx, targets)
    assert torch.equal(logits, logits2)
    assert loss2.shape == ()
    assert torch.allclose(loss2, F.cross_entropy(logits, targets))
    # by hand: C[idx] concatenated -> tanh hidden -> logits
    emb = m.C[idx].view(13, -1)
    ref = torch.tanh(emb @ m.W1 + m.b1) @ m.W2 + m.b2
    assert torch.allclose(logits, ref, atol=1e-6)


def test_initial_loss_kaiming_is_near_ln_vocab(names_data):
    V = len(names_data.vocab)
    model = MLP(MLPConfig(vocab_size=V, init="kaiming"), torch.Generator().manual_seed(2147483647))
    loss = split_loss(model, names_data.X["train"], names_data.Y["train"])
    assert abs(loss - math.log(V)) < 0.1
    lecture = MLP(MLPConfig(vocab_size=V), torch.Generator().manual_seed(2147483647))
    lecture_loss = split_loss(lecture, names_data.X["train"], names_data.Y["train"])
    assert lecture_loss > math.log(V) + 5  # the lecture's ~17-27: confidently wrong


def test_initial_loss_kaiming_small_list(small_data):
    V = len(small_data.vocab)
    for seed in range(3):
        model = MLP(MLPConfig(vocab_size=V, init="kaiming"), torch.Generator().manual_seed(seed))
        assert abs(split_loss(model, small_data.X["train"], small_data.Y["train"]) - math.log(V)) < 0.1


def test_split_loss_is_mean_cross_entropy_in_chunks(small_data):
    model = MLP(MLPConfig(vocab_size=len(small_data.vocab), n_hidden=20), torch.Generator().manual_seed(0))
    X, Y = small_data.X["train"], small_data.Y["train"]
    with torch.no_grad():
        ref = F.cross_entropy(model(X)[0], Y).item()
    assert split_loss(model, X, Y) == pytest.approx(ref, rel=1e-6)
    assert split_loss(model, X, Y, batch=7) == pytest.approx(ref, rel=1e-6)
    assert math.isnan(split_loss(model, X[:0], Y[:0]))


@pytest.mark.parametrize("training", [True, False])
def test_evaluating_puts_the_models_mode_back_even_on_an_error(training):
    model = MLP(MLPConfig(vocab_size=5, block_size=2, n_embd=2, n_hidden=4, batchnorm=True))
    model.train(training)
    before = model.running_mean.clone()
    with evaluating(model):
        assert not model.training
        model(torch.tensor([[1, 2], [3, 4]]))
    assert torch.equal(model.running_mean, before)  # batch norm read its running statistics, never moved them
    assert model.training == training
    with pytest.raises(ValueError), evaluating(model):
        raise ValueError
    assert model.training == training

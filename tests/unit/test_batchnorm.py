"""Batch normalisation after the hidden linear layer: the fused kernel against autograd, eval mode."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from core.config import TrainConfig
from core.engine.train import Trainer
from core.kernels.lecture import FusedGeneral
from core.model import BN_MOMENTUM, MLP, MLPConfig, split_loss
from core.runs.checkpoint import load_checkpoint, save_checkpoint


def _bn_model(seed: int = 0, H: int = 48) -> MLP:
    cfg = MLPConfig(vocab_size=27, block_size=3, n_embd=10, n_hidden=H, init="lecture", batchnorm=True)
    return MLP(cfg, torch.Generator().manual_seed(seed))


def test_batchnorm_adds_gain_and_bias_to_the_parameter_count():
    assert MLPConfig(batchnorm=True).num_params() == 11_897 + 400  # 12,297, as in makemore part 3
    assert _bn_model(H=48).num_params() == MLPConfig(n_hidden=48, batchnorm=True).num_params()


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_fused_batchnorm_steps_match_autograd(names_data, optimizer):
    model = _bn_model()
    ref = copy.deepcopy(model)
    B, lr = 16, (0.1 if optimizer == "sgd" else 3e-3)
    kernel = FusedGeneral(model, TrainConfig(batch_size=B, optimizer=optimizer, lr=lr))
    opt = (torch.optim.SGD(ref.parameters(), lr=lr) if optimizer == "sgd"
           else torch.optim.AdamW(ref.parameters(), lr=lr, weight_decay=0.0))
    kernel_b1 = model.b1.detach().clone()
    g = torch.Generator().manual_seed(3)
    for _ in range(15):
        ix = torch.randint(0, len(names_data.Y["train"]), (B,), generator=g)
        X, Y = names_data.X["train"][ix], names_data.Y["train"][ix]  # (B, 3), (B,)
        logp = torch.empty(1, B)
        kernel.run((X.reshape(-1),), (Y + torch.arange(B) * 27,), logp, lr)
        ref.train()
        _, loss = ref(X, Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert -logp.mean().item() == pytest.approx(loss.item(), abs=1e-5)
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        if name == "b1" and optimizer == "adamw":
            # b1's true gradient under batch norm is 0; autograd's rounding noise, normalised by Adam,
            # moves it at random. The kernel keeps it still.
            assert torch.equal(p, kernel_b1)
            continue
        torch.testing.assert_close(p, q, atol=2e-5, rtol=1e-4)
    if optimizer == "sgd":  # (with AdamW the reference's drifting b1 shifts its running mean)
        torch.testing.assert_close(model.running_mean, ref.running_mean, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(model.running_var, ref.running_var, atol=1e-5, rtol=1e-4)
    assert not torch.equal(model.running_var, torch.ones_like(model.running_var))  # they did move


def test_eval_mode_uses_running_statistics_and_leaves_them_alone():
    model = _bn_model(H=8)
    with torch.no_grad():
        model.running_mean.copy_(torch.linspace(-1, 1, 8))
        model.running_var.copy_(torch.linspace(0.5, 2, 8))
    X = torch.randint(0, 27, (5, 3))  # (5, block_size)
    model.eval()
    x = model.C[X].view(5, -1)  # (5, block_size*n_embd)
    hpre = x @ model.W1 + model.b1
    expected = (hpre - model.running_mean) / torch.sqrt(model.running_var + 1e-5)
    torch.testing.assert_close(model.preact(x), expected)
    # One row alone gives the same output as inside a batch: no batch statistics in eval mode.
    torch.testing.assert_close(model(X[:1])[0], model(X)[0][:1])
    before = model.running_mean.clone()
    split_loss(model, torch.randint(0, 27, (100, 3)), torch.randint(0, 27, (100,)))
    assert torch.equal(model.running_mean, before)


def test_training_mode_updates_running_statistics_with_momentum():
    model = _bn_model(H=8)
    model.train()
    X = torch.randint(0, 27, (64, 3))
    hpre = model.C[X].view(64, -1) @ model.W1 + model.b1
    model(X)
    torch.testing.assert_close(model.running_mean, BN_MOMENTUM * hpre.mean(0).detach())
    expected_var = (1 - BN_MOMENTUM) + BN_MOMENTUM * hpre.var(0).detach()  # unbiased, as nn.BatchNorm1d
    torch.testing.assert_close(model.running_var, expected_var)


def test_trainer_with_batchnorm_learns_and_checkpoints(names_data, tmp_path):
    mcfg = MLPConfig(n_hidden=64, batchnorm=True)
    tr = Trainer(names_data, mcfg, TrainConfig(steps=2000, batch_size=32, lr=0.1))
    start = tr.evaluate(("dev",))["dev"]
    tr.run()
    dev = tr.evaluate(("dev",))["dev"]
    assert dev < start - 0.5 and dev < 2.6
    path = save_checkpoint(tr, tmp_path / "bn.pt")
    ck = load_checkpoint(path)
    assert ck.model.config.batchnorm
    torch.testing.assert_close(ck.model.running_var, tr.model.running_var)
    assert split_loss(ck.model, names_data.X["dev"], names_data.Y["dev"]) == pytest.approx(dev, abs=1e-6)


def test_logits_match_functional_batch_norm():
    model = _bn_model(H=16)
    model.train()
    X = torch.randint(0, 27, (32, 3))
    x = model.C[X].view(32, -1)
    hpre = x @ model.W1 + model.b1
    ref = F.batch_norm(hpre, None, None, model.bngain, model.bnbias, training=True, eps=1e-5)
    torch.testing.assert_close(model.preact(x), ref)

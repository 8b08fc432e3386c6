"""core.kernels.general: the kernel of the layouts past the lecture's (layers, hier, batch-normed logits, direct
connections) against autograd on MLP.forward, and what those layouts are."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from autograd_reference import reference_optimizer, reference_step

from core.config import MLPConfig, TrainConfig
from core.kernels.general import FusedDeep
from core.model import MLP

LAYOUTS = {
    "flat 3 layers": dict(layers=3, n_hidden=24),
    "flat 3 layers, bn": dict(layers=3, n_hidden=24, batchnorm=True),
    "part 3 (bn logits)": dict(layers=4, n_hidden=20, batchnorm=True, bn_out=True),
    "hier": dict(arch="hier", block_size=8, n_embd=6, n_hidden=16),
    "hier, bn": dict(arch="hier", block_size=8, n_embd=6, n_hidden=16, batchnorm=True),
    "direct": dict(direct=True, n_hidden=24),
    "direct, hier, bn, bn logits": dict(direct=True, arch="hier", block_size=4, n_hidden=16, batchnorm=True,
                                        bn_out=True),
}


def model_of(seed: int = 0, **kw) -> MLP:
    cfg = MLPConfig(vocab_size=27, **{"block_size": 3, "n_embd": 5, "init": "kaiming", **kw})
    m = MLP(cfg, torch.Generator().manual_seed(seed))
    if cfg.direct:  # a trained-looking Wd, so its gradient paths carry weight
        with torch.no_grad():
            m.Wd.normal_(0, 0.05, generator=torch.Generator().manual_seed(seed + 1))
    return m


def batches(model: MLP, n: int, B: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    T = model.config.block_size
    return torch.randint(0, 27, (n, B, T), generator=g), torch.randint(0, 27, (n, B), generator=g)


def kernel_steps(model: MLP, cfg: TrainConfig, X, Y, lrs, masks=None) -> torch.Tensor:
    k = FusedDeep(model, cfg)
    n, B = Y.shape
    logp = torch.empty(n, B)
    xs = tuple(X[i].reshape(-1) for i in range(n))
    ys = tuple(Y[i] + k.row_offset for i in range(n))
    k.run(xs, ys, logp, lrs, masks)
    return -logp.mean(1)  # (n,)


def reference_steps(model: MLP, cfg: TrainConfig, X, Y, lr, masks=None) -> list[float]:
    """The plain PyTorch way, one step a batch: the shared autograd reference (tests/autograd_reference.py)."""
    opt = reference_optimizer(model, cfg, lr)
    return [reference_step(model, opt, X[i], Y[i], None if masks is None else masks[i]) for i in range(len(Y))]


@pytest.mark.parametrize("name", list(LAYOUTS))
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_the_deep_kernel_matches_autograd(name, optimizer):
    kw = LAYOUTS[name]
    lr = 0.05 if optimizer == "sgd" else 3e-3
    cfg = TrainConfig(batch_size=16, optimizer=optimizer, lr=lr)
    ours, ref = model_of(**kw), model_of(**kw)
    X, Y = batches(ours, 6, 16)
    got = kernel_steps(ours, cfg, X, Y, lr)
    want = reference_steps(ref, cfg, X, Y, lr)
    torch.testing.assert_close(got, torch.tensor(want), atol=2e-5, rtol=1e-5)
    for (n, a), (_, b) in zip(ours.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(a, b, atol=3e-5, rtol=1e-4, msg=lambda m, n=n: f"{name}: {n}: {m}")
    for (n, a), (_, b) in zip(ours.named_buffers(), ref.named_buffers()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=lambda m, n=n: f"{name}: {n}: {m}")


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_the_deep_kernels_gradients_are_autograds(name):
    """One SGD step at lr 1 moves each parameter by minus its gradient: that, against loss.backward()."""
    ours, ref = model_of(**LAYOUTS[name]), model_of(**LAYOUTS[name])
    X, Y = batches(ours, 1, 16)
    before = [p.detach().clone() for p in ours.parameters()]
    kernel_steps(ours, TrainConfig(batch_size=16, lr=1.0), X, Y, 1.0)
    F.cross_entropy(ref(X[0])[0], Y[0]).backward()
    for (n, p), b, (_, r) in zip(ours.named_parameters(), before, ref.named_parameters()):
        got = b - p.detach()
        scale = float(r.grad.abs().max())
        assert scale > 0, n
        atol = max(1e-5 * scale, 4e-7 * float(b.abs().max()))  # b - p rounds at the weights' magnitude
        torch.testing.assert_close(got, r.grad, atol=atol, rtol=1e-4, msg=lambda m, n=n: f"{name}: {n}: {m}")


@pytest.mark.parametrize("name", ["flat 3 layers, bn", "hier"])
def test_dropout_after_every_layer_matches_autograd(name):
    from core.kernels.lecture import dropout_masks

    kw = LAYOUTS[name]
    cfg = TrainConfig(batch_size=16, optimizer="adamw", lr=3e-3, dropout=0.3)
    ours, ref = model_of(**kw), model_of(**kw)
    X, Y = batches(ours, 4, 16)
    k = FusedDeep(ours, cfg)
    masks = dropout_masks(torch.Generator().manual_seed(5), (4, *k.mask_shape), 0.3)
    assert k.mask_shape == (sum(16 * layer.rows * layer.width for layer in ours.layers[:-1]),)
    got = kernel_steps(ours, cfg, X, Y, 3e-3, masks.unbind(0))
    want = reference_steps(ref, cfg, X, Y, 3e-3, masks)
    torch.testing.assert_close(got, torch.tensor(want), atol=2e-5, rtol=1e-5)
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, atol=3e-5, rtol=1e-4)


def test_direct_connections_at_zero_give_the_plain_models_logits_exactly():
    plain = model_of(n_hidden=24)
    direct = model_of(n_hidden=24, direct=True)
    with torch.no_grad():
        direct.Wd.zero_()
    X, _ = batches(plain, 1, 50)
    assert torch.equal(direct(X[0])[0], plain(X[0])[0])
    assert [n for n, _ in direct.named_parameters()] == ["C", "W1", "b1", "W2", "b2", "Wd"]
    for a, b in zip(plain.parameters(), direct.parameters()):  # the same draws: only Wd is new
        assert torch.equal(a, b)


def test_parameter_counts_of_the_lectures_models():
    assert MLPConfig(vocab_size=27).num_params() == 11_897 == MLP(MLPConfig(vocab_size=27)).num_params()
    part3 = MLPConfig(vocab_size=27, n_embd=10, n_hidden=100, layers=5, batchnorm=True, bn_out=True)
    assert part3.num_params() == 47_024 == MLP(part3).num_params()
    wavenet = MLPConfig(vocab_size=27, arch="hier", block_size=8, n_embd=24, n_hidden=128, batchnorm=True)
    assert wavenet.num_params() == 76_579 == MLP(wavenet).num_params()
    assert MLPConfig(vocab_size=27, direct=True).num_params() == 11_897 + 30 * 27


def test_one_flat_layer_is_the_lecture_model_bit_for_bit(names_data, monkeypatch):
    """--layers 1 --arch flat: today's model, on today's kernel, with today's losses (the torch kernel;
    the compiled one agrees to rounding, tests/unit/test_jit.py)."""
    from core.engine.train import Trainer
    from core.kernels.lecture import FusedSGD

    monkeypatch.setenv("MLP_TUI_KERNEL", "torch")
    a = Trainer(names_data, MLPConfig(layers=1, arch="flat"), TrainConfig(steps=500))
    assert type(a.kernel) is FusedSGD and [n for n, _ in a.model.named_parameters()] == ["C", "W1", "b1", "W2", "b2"]
    b = Trainer(names_data, MLPConfig(), TrainConfig(steps=500))
    a.run()
    b.run()
    assert torch.equal(a.history.series()[1], b.history.series()[1])


def test_hier_layers_fuse_pairs_level_by_level():
    cfg = MLPConfig(vocab_size=27, arch="hier", block_size=16, n_embd=4, n_hidden=8)
    plan = cfg.plan()
    assert [(layer.rows, layer.fan_in, layer.width) for layer in plan] == [(8, 8, 8), (4, 16, 8), (2, 16, 8),
                                                                          (1, 16, 8), (1, 8, 27)]
    assert cfg.arch_label() == "hier 4 levels of 8"
    m = MLP(cfg)
    X = torch.randint(0, 27, (5, 16))
    assert m(X)[0].shape == (5, 27)
    # the first level sees characters (0,1), (2,3), ...: changing character 15 moves only the last pair's unit
    keep: list[torch.Tensor] = []
    m.hidden(m.C[X], keep)
    X2 = X.clone()
    X2[:, 15] = (X2[:, 15] + 1) % 27
    keep2: list[torch.Tensor] = []
    m.hidden(m.C[X2], keep2)
    first, first2 = keep[0].view(5, 8, 8), keep2[0].view(5, 8, 8)
    assert torch.equal(first[:, :7], first2[:, :7]) and not torch.equal(first[:, 7], first2[:, 7])


def test_a_deep_model_trains_on_names(names_data):
    from core.engine.train import Trainer

    tr = Trainer(names_data, MLPConfig(layers=3, n_hidden=64, batchnorm=True, init="kaiming"),
                 TrainConfig(steps=1500, lr=0.1))
    assert type(tr.kernel) is FusedDeep
    first = tr.evaluate(("dev",))["dev"]
    assert math.isclose(first, math.log(27), abs_tol=0.3)
    assert tr.run()
    assert tr.evaluate(("dev",))["dev"] < first - 0.5


# ---------------------------------------------------------------- in the app

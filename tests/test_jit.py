"""The compiled lecture step (core/jit.py) against the torch kernel and against autograd's numbers."""

from __future__ import annotations

import math

import pytest
import torch

from core import jit
from core.deep import make_kernel
from core.kernels import FusedGeneral, FusedSGD
from core.model import MLP, MLPConfig
from core.train import TrainConfig, Trainer

pytest.importorskip("numba")
pytest.importorskip("scipy")


def _pair(names_data, **model_kw) -> tuple[MLP, MLP]:
    cfg = MLPConfig(vocab_size=len(names_data.vocab), **model_kw)
    a = MLP(cfg, torch.Generator().manual_seed(3))
    b = MLP(cfg, torch.Generator().manual_seed(3))
    return a, b


def test_compiled_step_matches_the_torch_kernel(names_data):
    """300 steps at a learning rate that changes every step: the same weights and log-probabilities to
    float32 rounding, and the loss really went down. (Kaiming init: from the lecture's large init the
    first steps are violent enough to amplify rounding to ~3e-5; test_trainer_on_either_kernel covers it.)"""
    a, b = _pair(names_data, n_hidden=64, init="kaiming")
    B, n = 32, 300
    g = torch.Generator().manual_seed(0)
    ix = torch.randint(0, len(names_data.Y["train"]), (n, B), generator=g)
    X = names_data.X["train"][ix].view(n, -1)  # (n, B*block_size)
    lrs = [0.2 * (1 - i / n) + 0.01 for i in range(n)]
    ka, kb = FusedSGD(a, B), jit.JitSGD(b, B)
    Y = names_data.Y["train"][ix] + ka.row_offset  # (n, B) flat
    la, lb = torch.empty(n, B), torch.empty(n, B)
    ka.run(X.unbind(0), Y.unbind(0), la, lrs)
    kb.run(X, Y, lb, lrs)
    assert torch.allclose(la, lb, atol=1e-5), (la - lb).abs().max()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5), (name, (pa - pb).abs().max())
    assert -lb[-50:].mean() < -lb[:50].mean() - 0.3  # it learned


def test_rows_given_as_tuples_are_the_same_steps(names_data):
    """The lr finder hands over tuples of rows, as to FusedSGD; the result equals the stacked call."""
    a, b = _pair(names_data, n_hidden=16)
    ka, kb = jit.JitSGD(a, 8), jit.JitSGD(b, 8)
    X = names_data.X["train"][:80].view(10, -1)
    Y = names_data.Y["train"][:80].view(10, 8) + ka.row_offset
    la, lb = torch.empty(10, 8), torch.empty(10, 8)
    ka.run(X, Y, la, 0.1)
    kb.run(X.unbind(0), Y.unbind(0), lb, 0.1)
    assert torch.equal(la, lb) and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_tanh_approximation_is_float32_accurate():
    import numba as nb
    import numpy as np

    _, tanh, _ = jit._build()

    @nb.njit
    def apply(xs, out):
        for i in range(len(xs)):
            out[i] = tanh(xs[i])

    xs = np.concatenate([np.linspace(-20, 20, 400_001), [0.0, 1e-30, -1e-30, 9.0, -9.0, 1e6, -1e6]])
    xs = xs.astype(np.float32)
    out = np.empty_like(xs)
    apply(xs, out)
    err = np.abs(out.astype(np.float64) - np.tanh(xs.astype(np.float64)))
    assert err.max() < 5e-7, err.max()
    neg = np.empty_like(xs)
    apply(-xs, neg)
    assert np.abs(out).max() <= 1.0 and np.array_equal(neg, -out)  # odd, and never past +-1
    small = np.abs(xs) < 1e-3
    assert np.abs(out[small] - xs[small]).max() <= 1e-6 * np.abs(xs[small]).max() + 1e-12  # tanh x ~ x near 0


def test_an_index_outside_the_table_raises_instead_of_writing_memory(names_data):
    a, _ = _pair(names_data, n_hidden=16)
    k = jit.JitSGD(a, 4)
    X = torch.full((1, 4 * 3), len(names_data.vocab))  # one past the last character
    Y = torch.zeros(1, 4, dtype=torch.long) + k.row_offset
    with pytest.raises(IndexError, match="embedding table"):
        k.run(X, Y, torch.empty(1, 4), 0.1)
    with pytest.raises(IndexError, match="vocabulary"):
        k.run(torch.zeros(1, 12, dtype=torch.long), Y + 1000, torch.empty(1, 4), 0.1)


def test_make_kernel_picks_the_compiled_step_only_for_plain_sgd(names_data, monkeypatch):
    model = MLP(MLPConfig(vocab_size=len(names_data.vocab), n_hidden=16))
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    assert isinstance(make_kernel(model, TrainConfig()), jit.JitSGD)
    assert isinstance(make_kernel(model, TrainConfig(dropout=0.1)), FusedGeneral)
    assert isinstance(make_kernel(model, TrainConfig(optimizer="adamw")), FusedGeneral)
    monkeypatch.setenv("MLP_TUI_KERNEL", "torch")
    assert type(make_kernel(model, TrainConfig())) is FusedSGD
    assert jit.why_not() == "MLP_TUI_KERNEL=torch"


def test_trainer_on_either_kernel_learns_the_same(names_data, monkeypatch):
    """The whole Trainer (chunks, lr decay, loss history) on each path: the same curve to rounding."""
    cfg = TrainConfig(steps=3000, decay_at=2000)
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    a = Trainer(names_data, MLPConfig(n_hidden=64), cfg)
    monkeypatch.setenv("MLP_TUI_KERNEL", "torch")
    b = Trainer(names_data, MLPConfig(n_hidden=64), cfg)
    assert isinstance(a._kernel, jit.JitSGD) and type(b._kernel) is FusedSGD
    assert a.run() and b.run()
    la, lb = a.history.series()[1], b.history.series()[1]  # log10 loss per step
    assert len(la) == len(lb) == 3000
    assert abs(la[-500:].mean().item() - lb[-500:].mean().item()) < 0.005
    ea, eb = a.evaluate(("dev",))["dev"], b.evaluate(("dev",))["dev"]
    assert math.isfinite(ea) and abs(ea - eb) < 0.01 and ea < 2.75


def test_a_diverging_chunk_on_the_compiled_step_is_rolled_back(names_data, monkeypatch):
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    tr = Trainer(names_data, MLPConfig(n_hidden=32), TrainConfig(steps=2000, lr=900.0, decay_at=2000))
    assert isinstance(tr._kernel, jit.JitSGD)
    before = [p.detach().clone() for p in tr.model.parameters()]
    assert tr.run() is False and tr.diverged
    assert all(torch.equal(p, q) for p, q in zip(tr.model.parameters(), before))  # the weights came back


def test_a_numba_that_fails_to_load_falls_back_to_the_torch_kernel(names_data, monkeypatch):
    """A broken install (numba built against another numpy, ...) costs speed, never the run."""
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)

    def broken():
        raise RuntimeError("numba 0.0 needs numpy < 1")

    monkeypatch.setattr(jit, "_build", broken)
    model = MLP(MLPConfig(vocab_size=len(names_data.vocab), n_hidden=16))
    assert type(make_kernel(model, TrainConfig())) is FusedSGD
    assert "numba failed to load: RuntimeError: numba 0.0 needs numpy < 1" == jit.why_not()

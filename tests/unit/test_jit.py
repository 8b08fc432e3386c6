"""The compiled lecture step (core/kernels/jit.py) against the torch kernel and against autograd's numbers."""

from __future__ import annotations

import math

import pytest
import torch

from core.engine.train import TrainConfig, Trainer
from core.kernels import jit, make_kernel
from core.kernels.lecture import FusedGeneral, FusedSGD
from core.model import MLP, MLPConfig

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

    tanh = jit._build()[1]

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


def test_make_kernel_picks_a_compiled_step_for_the_lecture_layout_without_batch_norm(names_data, monkeypatch):
    from core.kernels.general import FusedDeep

    V = len(names_data.vocab)
    model = MLP(MLPConfig(vocab_size=V, n_hidden=16))
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    assert isinstance(make_kernel(model, TrainConfig()), jit.JitSGD)
    assert type(make_kernel(model, TrainConfig(dropout=0.1))) is jit.JitGeneral
    assert type(make_kernel(model, TrainConfig(optimizer="adamw"))) is jit.JitGeneral
    bn = MLP(MLPConfig(vocab_size=V, n_hidden=16, batchnorm=True))
    assert type(make_kernel(bn, TrainConfig(optimizer="adamw"))) is FusedGeneral
    assert type(make_kernel(MLP(MLPConfig(vocab_size=V, n_hidden=16, layers=2)), TrainConfig())) is FusedDeep
    monkeypatch.setenv("MLP_TUI_KERNEL", "torch")
    assert type(make_kernel(model, TrainConfig())) is FusedSGD
    assert type(make_kernel(model, TrainConfig(optimizer="adamw"))) is FusedGeneral
    assert jit.why_not() == "MLP_TUI_KERNEL=torch"


GENERAL_RECIPES = [
    {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.01, "dropout": 0.2},
    {"optimizer": "adamw", "lr": 3e-3, "grad_clip": 0.5},
    {"optimizer": "sgd", "lr": 0.1, "weight_decay": 0.01, "dropout": 0.1},
    {"optimizer": "sgd", "lr": 0.1, "grad_clip": 0.3},
]


def _general_pair(names_data, cfg: TrainConfig, n: int):
    from core.kernels.lecture import dropout_masks

    a, b = _pair(names_data, n_hidden=48, init="kaiming")
    ka, kb = FusedGeneral(a, cfg), jit.JitGeneral(b, cfg)
    ix = torch.randint(0, len(names_data.Y["train"]), (n, cfg.batch_size), generator=torch.Generator().manual_seed(0))
    X = names_data.X["train"][ix].view(n, -1)  # (n, B*block_size)
    Y = names_data.Y["train"][ix] + ka.row_offset  # (n, B)
    M = dropout_masks(torch.Generator().manual_seed(5), (n, cfg.batch_size, 48), cfg.dropout) if cfg.dropout else None
    return a, b, ka, kb, X, Y, M


@pytest.mark.parametrize("recipe", GENERAL_RECIPES, ids=lambda r: "-".join(f"{k}={v}" for k, v in r.items()))
def test_compiled_general_step_matches_the_torch_kernel(names_data, recipe):
    """AdamW or SGD, weight decay, dropout (the same masks), clipping: 300 steps agree to rounding."""
    cfg = TrainConfig(batch_size=32, **recipe)
    a, b, ka, kb, X, Y, M = _general_pair(names_data, cfg, 300)
    la, lb = torch.empty(300, 32), torch.empty(300, 32)
    ka.run(X.unbind(0), Y.unbind(0), la, cfg.lr, None if M is None else M.unbind(0))
    kb.run(X, Y, lb, cfg.lr, M)
    assert torch.allclose(la, lb, atol=1e-5), (la - lb).abs().max()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5), (name, (pa - pb).abs().max())
    for ma, mb in zip(ka.exp_avg + ka.exp_avg_sq, kb.exp_avg + kb.exp_avg_sq):
        assert torch.allclose(ma, mb, atol=1e-6)
    assert float(kb.adam_step) == (300 if cfg.optimizer == "adamw" else 0) == float(ka.adam_step)
    assert -lb[-50:].mean() < -lb[:50].mean() - 0.2  # it learned


def test_adamw_state_moves_between_the_compiled_and_the_torch_kernel(names_data):
    """A checkpoint's optimiser state, or a switch of kernel mid-run, carries AdamW's moments over."""
    cfg = TrainConfig(batch_size=32, optimizer="adamw", lr=3e-3)
    a, b, ka, kb, X, Y, _ = _general_pair(names_data, cfg, 200)
    lp = torch.empty(100, 32)
    ka.run(X[:100].unbind(0), Y[:100].unbind(0), lp, cfg.lr)
    kb.run(X[:100], Y[:100], lp, cfg.lr)
    ka2 = jit.JitGeneral(a, cfg)  # a's weights, now on the compiled kernel, with the torch kernel's moments
    ka2.load_state_dict(ka.state_dict())
    kb2 = FusedGeneral(b, cfg)  # and the other way round
    kb2.load_state_dict(kb.state_dict())
    la, lb = torch.empty(100, 32), torch.empty(100, 32)
    ka2.run(X[100:], Y[100:], la, cfg.lr)
    kb2.run(X[100:].unbind(0), Y[100:].unbind(0), lb, cfg.lr)
    assert float(ka2.adam_step) == float(kb2.adam_step) == 200
    assert torch.allclose(la, lb, atol=1e-5)
    assert all(torch.allclose(p, q, atol=1e-5) for p, q in zip(a.parameters(), b.parameters()))


def test_trainer_on_either_kernel_learns_the_same(names_data, monkeypatch):
    """The whole Trainer (chunks, lr decay, loss history) on each path: the same curve to rounding."""
    cfg = TrainConfig(steps=3000, decay_at=2000)
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    a = Trainer(names_data, MLPConfig(n_hidden=64), cfg)
    monkeypatch.setenv("MLP_TUI_KERNEL", "torch")
    b = Trainer(names_data, MLPConfig(n_hidden=64), cfg)
    assert isinstance(a.kernel, jit.JitSGD) and type(b.kernel) is FusedSGD
    assert a.run() and b.run()
    la, lb = a.history.series()[1], b.history.series()[1]  # log10 loss per step
    assert len(la) == len(lb) == 3000
    assert abs(la[-500:].mean().item() - lb[-500:].mean().item()) < 0.005
    ea, eb = a.evaluate(("dev",))["dev"], b.evaluate(("dev",))["dev"]
    assert math.isfinite(ea) and abs(ea - eb) < 0.01 and ea < 2.75


def test_a_diverging_chunk_on_the_compiled_step_is_rolled_back(names_data, monkeypatch):
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    tr = Trainer(names_data, MLPConfig(n_hidden=32), TrainConfig(steps=2000, lr=900.0, decay_at=2000))
    assert isinstance(tr.kernel, jit.JitSGD)
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


def test_live_changes_reach_the_compiled_step(names_data, monkeypatch):
    """Betas, weight decay, dropout and clipping changed between chunks: the compiled and the torch
    kernels stay together, so each change reached both (the torch one is spied on in test_settings)."""
    cfg = TrainConfig(optimizer="adamw", lr=3e-3, beta1=0.8, beta2=0.95, steps=10_000)
    trainers = []
    for kernel in ("", "torch"):
        monkeypatch.setenv("MLP_TUI_KERNEL", kernel)
        trainers.append(Trainer(names_data, MLPConfig(n_hidden=32, init="kaiming"), cfg))
    a, b = trainers
    assert type(a.kernel) is jit.JitGeneral and type(b.kernel) is FusedGeneral
    for change in ({}, {"beta1": 0.6}, {"weight_decay": 0.1}, {"dropout": 0.3}, {"grad_clip": 0.2}, {"beta2": 0.9}):
        for tr in (a, b):
            tr.update_config(**change)
            assert tr.run(150)
        assert torch.allclose(a.history.series()[1], b.history.series()[1], atol=1e-5), change
    ref = Trainer(names_data, MLPConfig(n_hidden=32, init="kaiming"), cfg)  # torch, betas never changed
    ref.run(900)
    assert not torch.allclose(ref.history.series()[1][-150:], b.history.series()[1][-150:], atol=1e-3)


def test_wrong_shapes_are_refused_before_the_compiled_code(names_data):
    """numba checks no bounds: a chunk of the wrong shape must be a ValueError, not a write past a buffer."""
    cfg = TrainConfig(batch_size=4, optimizer="adamw", dropout=0.1)
    a, b = _pair(names_data, n_hidden=16)
    ks, kg = jit.JitSGD(a, 4), jit.JitGeneral(b, cfg)
    X, Y = torch.zeros(3, 12, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long) + ks.row_offset
    good = torch.empty(3, 4)
    before = [p.clone() for p in (*a.parameters(), *b.parameters())]
    for k in (ks, kg):
        with pytest.raises(ValueError, match="inputs"):
            k.run(torch.zeros(3, 150, dtype=torch.long), Y, good, 0.1)  # a block of 50 on a block-3 model
        with pytest.raises(ValueError, match="logp"):
            k.run(X, Y, torch.empty(2, 4), 0.1)  # fewer rows than steps
        with pytest.raises(ValueError, match="targets"):
            k.run(X, Y[:, :3], good, 0.1)
    with pytest.raises(ValueError, match="dropout masks"):
        kg.run(X, Y, good, 0.1, torch.ones(2, 4, 16))
    assert all(torch.equal(p, q) for p, q in zip((*a.parameters(), *b.parameters()), before))  # nothing written
    kg.run(X, Y, good, 0.1, torch.ones(3, 4, 16))  # the right shapes still run
    assert torch.isfinite(good).all()


# ---- numba's cache folder: nothing in it may block a read (a FIFO made `train` hang, deaf to SIGTERM) ----
_CACHED = """import numba


@numba.njit(cache=True)
def double(x):
    return 2 * x
"""


def _cached_function(folder, name: str):
    """A fresh module with a `cache=True` numba function, its cache in folder/__pycache__ (numba's in-tree cache)."""
    import importlib.util

    (folder / f"{name}.py").write_text(_CACHED)
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.double


def _call_or_unblock(fn, index) -> object:
    """fn(21) in a thread; if it blocks on the FIFO at `index` (the bug), open the FIFO's other end so that the
    thread ends, and fail."""
    import os
    import threading

    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(result=fn(21)), daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        fd = os.open(index, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(10)
        pytest.fail("numba blocked reading its cache")
    return out.get("result")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The temp folder (where private_cache_dir goes) inside the test's folder; numba's CACHE_DIR put back after."""
    import tempfile

    import numba

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    return tmp_path / "tmp"


@pytest.mark.parametrize("hostile", ["fifo", "link-to-fifo", "device", "link-loop"])
def test_a_cache_folder_holding_no_file_is_passed_over(tmp_path, private_tmp, hostile):
    import os
    import stat
    from pathlib import Path

    src = tmp_path / "src"
    src.mkdir()
    fn = _cached_function(src, f"cached_{hostile.replace('-', '_')}")
    index = Path(fn._cache._cache_file._index_path)
    assert index.parent == src / "__pycache__"
    if hostile == "fifo":
        os.mkfifo(index)
    elif hostile == "link-to-fifo":
        os.mkfifo(tmp_path / "pipe")
        index.symlink_to(tmp_path / "pipe")
    elif hostile == "device":
        index.symlink_to("/dev/zero")
    else:
        index.symlink_to(index)
    note = jit.guard_cache(fn)
    assert index.name in note and "not files" in note and str(private_tmp) in note
    assert Path(fn._cache.cache_path).is_relative_to(private_tmp)
    assert _call_or_unblock(fn, index) == 42
    assert not stat.S_ISREG(os.lstat(index).st_mode) or index.is_symlink()  # what was there is left alone
    assert any(Path(fn._cache.cache_path).glob("*.nbi"))  # cached in the private folder instead


def test_a_sound_cache_folder_is_kept(tmp_path, private_tmp):
    fn = _cached_function(tmp_path, "cached_sound")
    where = fn._cache.cache_path
    assert jit.guard_cache(fn) == "" and fn._cache.cache_path == where
    assert fn(21) == 42


def test_a_private_cache_folder_others_may_write_is_refused(private_tmp):
    import os

    folder = jit.private_cache_dir()
    assert folder is not None and oct(os.stat(folder).st_mode & 0o777) == "0o700"
    os.chmod(folder, 0o777)
    assert jit.private_cache_dir() is None


def test_no_cache_at_all_when_the_private_folder_is_refused_too(tmp_path, private_tmp):
    import os
    from pathlib import Path

    from numba.core.caching import NullCache

    folder = jit.private_cache_dir()
    os.chmod(folder, 0o777)
    fn = _cached_function(tmp_path, "cached_nowhere")
    index = Path(fn._cache._cache_file._index_path)
    os.mkfifo(index)
    assert "without a cache" in jit.guard_cache(fn)
    assert isinstance(fn._cache, NullCache)
    assert _call_or_unblock(fn, index) == 42

"""core.kernels: every kernel make_kernel can pick keeps the one contract (core.kernels.base.Kernel), and the
Trainer reports the kernel it runs."""

from __future__ import annotations

import inspect

import pytest
import torch

from core.config import MLPConfig, TrainConfig
from core.engine.train import Trainer
from core.kernels import Kernel, jit, make_kernel
from core.kernels.general import FusedDeep
from core.kernels.jit import JitGeneral, JitSGD
from core.kernels.lecture import FusedGeneral, FusedSGD
from core.kernels.members import MembersKernel
from core.kernels.wide import WIDE_VOCAB, WideOut
from core.probes.zipf import zipf_dataset

# (model settings, recipe, MLP_TUI_KERNEL, the class make_kernel picks for them)
CASES = [
    ({}, {}, "torch", FusedSGD),
    ({}, {"optimizer": "adamw"}, "torch", FusedGeneral),
    ({}, {"dropout": 0.1}, "torch", FusedGeneral),
    ({"batchnorm": True}, {}, "", FusedGeneral),
    ({"layers": 2}, {"dropout": 0.1}, "", FusedDeep),
    ({}, {}, "", JitSGD),
    ({}, {"optimizer": "adamw", "dropout": 0.1}, "", JitGeneral),
    ({"members": 2, "n_embd": 8, "n_hidden": 16}, {}, "", MembersKernel),
    ({"members": 2, "n_embd": 8, "n_hidden": 16}, {"optimizer": "adamw"}, "torch", MembersKernel),
    ({"direct": True, "words": True}, {"optimizer": "adamw"}, "", WideOut),  # words: a vocabulary of WIDE_VOCAB
    ({"words": True}, {}, "torch", WideOut),
]


def concrete_kernels(cls: type = Kernel) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        if not inspect.isabstract(sub) and sub.__module__.startswith("core."):
            out.add(sub)
        out |= concrete_kernels(sub)
    return out


def test_every_kernel_class_has_a_case_below():
    """A new kernel class must join CASES, so that the contract test below covers it."""
    assert concrete_kernels() == {cls for *_, cls in CASES}


@pytest.mark.parametrize(("model_kw", "train_kw", "env", "cls"), CASES,
                         ids=[f"{c.__name__}-{'-'.join(t) or 'sgd'}" for _, t, _, c in CASES])
def test_each_kernel_keeps_the_contract_and_the_trainer_names_it(small_data, monkeypatch, model_kw, train_kw, env,
                                                                  cls):
    if env == "" and cls in (JitSGD, JitGeneral) and not jit.available():
        pytest.skip(f"numba: {jit.why_not()}")
    monkeypatch.setenv("MLP_TUI_KERNEL", env)
    model_kw = dict(model_kw)
    data = zipf_dataset(3, WIDE_VOCAB, 5_000) if model_kw.pop("words", False) else small_data
    mc = MLPConfig(**{"n_embd": 4, "n_hidden": 32, "init": "kaiming", **model_kw})
    tr = Trainer(data, mc, TrainConfig(**{"steps": 100_000, "batch_size": 8, **train_kw}))
    kernel = tr.kernel
    assert type(kernel) is cls and isinstance(kernel, Kernel)
    assert type(make_kernel(tr.model, tr.config)) is cls  # the Trainer runs what make_kernel picks
    compiled = cls in (JitSGD, JitGeneral) or (cls is MembersKernel and env == "" and jit.available())
    assert kernel.name == ("numba" if compiled else "openblas" if cls is WideOut else "torch")
    assert isinstance(kernel.stacked, bool) and isinstance(kernel.general, bool)
    assert kernel.row_offset.shape == (8,)
    assert kernel.general == (not tr.config.fast_path or cls in (FusedGeneral, FusedDeep, WideOut))
    assert bool(kernel.mask_shape) == kernel.general  # a general kernel takes dropout masks
    state = kernel.state_dict()
    assert bool(state) == kernel.general  # plain SGD keeps no optimiser state
    if kernel.general:
        kernel.load_state_dict(state)
    else:
        with pytest.raises(ValueError, match="no optimizer state"):
            kernel.load_state_dict({"exp_avg": [], "exp_avg_sq": [], "step": torch.zeros(())})
        with pytest.raises(ValueError, match="no dropout masks"):
            kernel.run(torch.zeros(1, 8 * 3, dtype=torch.long), torch.zeros(1, 8, dtype=torch.long),
                       torch.empty(1, 8), 0.1, torch.ones(1, 8, 32))
    assert tr.run(30) and tr.step == 30 and tr.kernel is kernel
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())

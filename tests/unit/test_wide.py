"""core.kernels.wide: the large-vocabulary kernel (the output side as one matrix, its products on OpenBLAS or
torch) against autograd on MLP.forward, on a small vocabulary; the joined output matrix; make_kernel's choice."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from autograd_reference import reference_optimizer, reference_step

from core.config import MLPConfig, TrainConfig
from core.kernels import make_kernel
from core.kernels.general import FusedDeep
from core.kernels.lecture import dropout_masks
from core.kernels.wide import WIDE_VOCAB, WideOut, join_output
from core.model import MLP

V = 53  # small, and odd: the row length of every (., V) matrix
LAYOUTS = {
    "bengio (direct)": dict(direct=True, block_size=4, n_embd=6, n_hidden=12),
    "no direct": dict(n_hidden=12),
    "2 layers, bn, direct": dict(direct=True, layers=2, n_hidden=10, batchnorm=True),
    "hier, direct": dict(direct=True, arch="hier", block_size=4, n_embd=5, n_hidden=8),
}
LIBRARIES = ["openblas", "torch"]


def model_of(seed: int = 0, vocab: int = V, **kw) -> MLP:
    cfg = MLPConfig(vocab_size=vocab, **{"block_size": 3, "n_embd": 5, "init": "kaiming", **kw})
    m = MLP(cfg, torch.Generator().manual_seed(seed))
    with torch.no_grad():  # trained-looking output weights, so every gradient path carries weight
        if m.layers[-1].bias:
            getattr(m, m.layers[-1].b).normal_(0, 0.5, generator=torch.Generator().manual_seed(seed + 2))
        if cfg.direct:
            m.Wd.normal_(0, 0.05, generator=torch.Generator().manual_seed(seed + 1))
    return m


def batches(model: MLP, n: int, B: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    T, vocab = model.config.block_size, model.config.vocab_size
    return torch.randint(0, vocab, (n, B, T), generator=g), torch.randint(0, vocab, (n, B), generator=g)


def kernel_steps(model: MLP, cfg: TrainConfig, X, Y, lrs, masks=None, library="openblas") -> torch.Tensor:
    k = WideOut(model, cfg, library)
    n, B = Y.shape
    logp = torch.empty(n, B)
    k.run(tuple(X[i].reshape(-1) for i in range(n)), tuple(Y[i] + k.row_offset for i in range(n)), logp, lrs,
          masks)
    return -logp.mean(1)  # (n,)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", list(LAYOUTS))
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_the_wide_kernel_matches_autograd(name, optimizer, library):
    kw = LAYOUTS[name]
    lr = 0.05 if optimizer == "sgd" else 3e-3
    cfg = TrainConfig(batch_size=16, optimizer=optimizer, lr=lr, weight_decay=0.1 if optimizer == "adamw" else 0)
    ours, ref = model_of(**kw), model_of(**kw)
    X, Y = batches(ours, 6, 16)
    got = kernel_steps(ours, cfg, X, Y, lr, library=library)
    opt = reference_optimizer(ref, cfg, lr)
    want = [reference_step(ref, opt, X[i], Y[i]) for i in range(len(Y))]
    torch.testing.assert_close(got, torch.tensor(want), atol=2e-5, rtol=1e-5)
    for (n, a), (_, b) in zip(ours.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(a, b, atol=3e-5, rtol=1e-4, msg=lambda m, n=n: f"{name}: {n}: {m}")


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_the_wide_kernels_gradients_are_autograds(name, library):
    """One SGD step at lr 1 moves each parameter by minus its gradient: that, against loss.backward()."""
    ours, ref = model_of(**LAYOUTS[name]), model_of(**LAYOUTS[name])
    X, Y = batches(ours, 1, 16)
    before = [p.detach().clone() for p in ours.parameters()]
    kernel_steps(ours, TrainConfig(batch_size=16, lr=1.0), X, Y, 1.0, library=library)
    F.cross_entropy(ref(X[0])[0], Y[0]).backward()
    for (n, p), b, (_, r) in zip(ours.named_parameters(), before, ref.named_parameters()):
        got = b - p.detach()
        scale = float(r.grad.abs().max())
        assert scale > 0, n
        atol = max(1e-5 * scale, 4e-7 * float(b.abs().max()))
        torch.testing.assert_close(got, r.grad, atol=atol, rtol=1e-4, msg=lambda m, n=n: f"{name}: {n}: {m}")


def test_dropout_matches_autograd():
    kw = LAYOUTS["bengio (direct)"]
    cfg = TrainConfig(batch_size=16, optimizer="adamw", lr=3e-3, dropout=0.3, weight_decay=0.1)
    ours, ref = model_of(**kw), model_of(**kw)
    X, Y = batches(ours, 4, 16)
    masks = dropout_masks(torch.Generator().manual_seed(5), (4, 16 * 12), 0.3)
    got = kernel_steps(ours, cfg, X, Y, 3e-3, masks.unbind(0))
    opt = reference_optimizer(ref, cfg, 3e-3)
    want = [reference_step(ref, opt, X[i], Y[i], masks[i]) for i in range(4)]
    torch.testing.assert_close(got, torch.tensor(want), atol=2e-5, rtol=1e-5)
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, atol=3e-5, rtol=1e-4)


def test_the_output_side_is_one_matrix_and_keeps_its_values():
    m = model_of(**LAYOUTS["bengio (direct)"])
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    Wout = join_output(m)
    assert Wout.shape == (24 + 12 + 1, V) and Wout.is_contiguous()
    assert m.Wd.data_ptr() == Wout.data_ptr() and m.b2.data_ptr() == Wout[-1].data_ptr()
    assert m.W2.data_ptr() == Wout[24].data_ptr() and m.b2.shape == (V,)
    for n, p in m.named_parameters():
        assert torch.equal(p, before[n]), n
    assert join_output(m).data_ptr() == Wout.data_ptr()  # joined once: a second kernel shares it
    m.load_state_dict({k: v.clone() + 1 for k, v in m.state_dict().items()})  # a load writes into the views
    assert torch.equal(Wout[-1], before["b2"] + 1)


def test_make_kernel_gives_a_word_vocabulary_the_wide_kernel_and_characters_fused_deep():
    cfg = TrainConfig(batch_size=8, optimizer="adamw")
    assert type(make_kernel(model_of(vocab=WIDE_VOCAB, direct=True), cfg)) is WideOut
    assert type(make_kernel(model_of(vocab=WIDE_VOCAB - 1, direct=True), cfg)) is FusedDeep
    assert type(make_kernel(model_of(vocab=WIDE_VOCAB, direct=True, bn_out=True), cfg)) is FusedDeep


def test_one_rule_gives_the_threads_of_a_run(monkeypatch):
    from core.kernels import threads

    monkeypatch.setattr(threads, "cores", lambda: 2)
    bengio = MLPConfig(vocab_size=16_383, block_size=4, n_embd=60, n_hidden=50, direct=True)
    lecture = MLPConfig()
    assert threads.step_macs(lecture, 32) == 32 * (30 * 200 + 200 * 27)
    assert threads.step_macs(bengio, 256) == 256 * (240 * 50 + 50 * 16_383 + 240 * 16_383)
    assert threads.training_threads(lecture, 32, load=0.0) == 1  # small steps: one thread, as ever
    assert threads.training_threads(MLPConfig(block_size=12, n_embd=24, n_hidden=512), 32, load=0.0) == 1
    assert threads.training_threads(bengio, 256, load=0.2) == 2  # a big step and a free core
    assert threads.training_threads(bengio, 256, load=3.0) == 1  # a big step on a busy machine
    assert threads.training_threads(MLPConfig(n_embd=8, n_hidden=256, members=4), 32, load=9.0) == 2
    monkeypatch.setattr(threads, "cores", lambda: 1)
    assert threads.training_threads(bengio, 256, load=0.0) == 1
    monkeypatch.setattr(threads, "cores", lambda: 2)  # a served app or a sweep's worker: a budget of one core
    assert threads.training_threads(bengio, 256, budget=1, load=0.0) == 1


@pytest.mark.slow
def test_a_zipf_stream_trains_on_the_wide_kernel_with_no_per_step_allocation():
    """A Trainer on core.probes.zipf's stand-in gets the wide kernel, learns, and keeps the kernel's buffers (the
    model's output side stays the kernel's one matrix)."""
    from core.engine.train import Trainer
    from core.probes.zipf import zipf_dataset

    data = zipf_dataset(3, vocab_size=WIDE_VOCAB, tokens=20_000)
    assert len(data.vocab) == WIDE_VOCAB and data.X["train"].shape == (int(0.8 * 19_997), 3)
    assert torch.equal(data.X["dev"][1:, :2], data.X["dev"][:-1, 1:])  # contexts slide one token at a time
    counts = torch.bincount(data.Y["train"], minlength=WIDE_VOCAB)
    assert counts[0] > 5 * counts[9] > 0  # Zipf's law: the first rank ~10x the tenth
    cfg = TrainConfig(batch_size=32, optimizer="adamw", lr=1e-2, dropout=0.1, weight_decay=0.1, steps=40)
    trainer = Trainer(data, MLPConfig(n_embd=8, n_hidden=16, direct=True, init="kaiming"), cfg)
    kernel = trainer.kernel
    assert type(kernel) is WideOut and kernel.name in ("openblas", "torch")
    buffers = [t.data_ptr() for t in (kernel.dl, kernel.lp, kernel.xcat, kernel.gWout, kernel.Wout)]
    start = trainer.evaluate(("train",))["train"]
    assert start == pytest.approx(math.log(WIDE_VOCAB), abs=0.2)  # kaiming: near uniform
    assert trainer.run()
    assert [t.data_ptr() for t in (kernel.dl, kernel.lp, kernel.xcat, kernel.gWout, kernel.Wout)] == buffers
    assert trainer.model.Wd.data_ptr() == kernel.Wout.data_ptr()
    assert trainer.evaluate(("train",))["train"] < start - 0.5  # it learns the unigram distribution


@pytest.mark.slow
def test_an_ensemble_of_word_models_trains_its_members_on_wide_kernels():
    """A member's wide kernel makes its output side views of one matrix: the ensemble writes the members' weights
    through those views, and its merged model learns."""
    from core.engine.train import Trainer
    from core.kernels.members import MembersKernel
    from core.probes.zipf import zipf_dataset

    data = zipf_dataset(3, vocab_size=WIDE_VOCAB, tokens=20_000)
    cfg = TrainConfig(batch_size=32, optimizer="adamw", lr=1e-2, steps=40)
    trainer = Trainer(data, MLPConfig(n_embd=8, n_hidden=16, members=2, init="kaiming"), cfg)
    kernel = trainer.kernel
    assert type(kernel) is MembersKernel and all(type(k) is WideOut for k in kernel.kernels)
    start = trainer.evaluate(("train",))["train"]
    assert trainer.run()
    assert trainer.evaluate(("train",))["train"] < start - 0.5

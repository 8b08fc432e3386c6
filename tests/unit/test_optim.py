"""AdamW, weight decay, dropout, schedules, time budgets and best-dev weights against references."""

from __future__ import annotations

import copy
import math
import time

import pytest
import torch
import torch.nn.functional as F
from autograd_reference import reference_step
from conftest import small_trainer

from core.config import TrainConfig
from core.engine.train import Trainer
from core.kernels.lecture import FusedGeneral, dropout_masks
from core.model import MLP, MLPConfig


def _batch(data, B: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ix = torch.randint(0, len(data.Y["train"]), (B,), generator=g)
    return data.X["train"][ix], data.Y["train"][ix]  # (B, block_size), (B,)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adamw_steps_match_torch_optim_adamw(names_data, dropout, weight_decay):
    cfg = TrainConfig(optimizer="adamw", lr=3e-3, weight_decay=weight_decay, dropout=dropout)
    mcfg = MLPConfig(vocab_size=27, block_size=3, n_embd=10, n_hidden=64, init="kaiming")
    model = MLP(mcfg, torch.Generator().manual_seed(0))
    ref = copy.deepcopy(model)
    kernel = FusedGeneral(model, TrainConfig(**{**cfg.to_dict(), "batch_size": 16}))
    opt = torch.optim.AdamW(ref.parameters(), lr=cfg.lr, weight_decay=weight_decay, betas=(0.9, 0.999), eps=1e-8)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for step in range(20):
        X, Y = _batch(names_data, 16, seed=step)
        mask = dropout_masks(g1, (1, 16, 64), dropout)[0] if dropout else None
        ref_mask = dropout_masks(g2, (1, 16, 64), dropout)[0] if dropout else None  # the same stream
        logp = torch.empty(1, 16)
        kernel.run((X.reshape(-1),), (Y + torch.arange(16) * 27,), logp, cfg.lr, (mask,) if dropout else None)
        ref_loss = reference_step(ref, opt, X, Y, ref_mask)
        assert -logp.mean().item() == pytest.approx(ref_loss, abs=1e-5)
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, atol=2e-5, rtol=1e-4)


def test_sgd_with_weight_decay_matches_torch_optim_sgd(names_data):
    mcfg = MLPConfig(vocab_size=27, block_size=3, n_embd=10, n_hidden=32, init="kaiming")
    model = MLP(mcfg, torch.Generator().manual_seed(1))
    ref = copy.deepcopy(model)
    kernel = FusedGeneral(model, TrainConfig(batch_size=8, lr=0.1, weight_decay=0.05))
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, weight_decay=0.05)
    for step in range(10):
        X, Y = _batch(names_data, 8, seed=100 + step)
        kernel.run((X.reshape(-1),), (Y + torch.arange(8) * 27,), torch.empty(1, 8), 0.1)
        reference_step(ref, opt, X, Y)
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)


def test_dropout_masks_are_inverted_dropout_like_f_dropout():
    g = torch.Generator().manual_seed(0)
    m = dropout_masks(g, (50, 64, 128), 0.25)  # (50, 64, 128)
    kept = m > 0
    assert abs(kept.float().mean().item() - 0.75) < 0.005
    # F.dropout's kept values are input / (1 - p): the same scale
    ref = F.dropout(torch.ones(1000), 0.25, training=True)
    assert torch.allclose(m[kept], torch.full_like(m[kept], ref[ref > 0][0].item()))
    assert abs(m.mean().item() - 1.0) < 0.01  # unbiased: E[mask] = 1
    # reproducible from the generator, different for another seed
    assert torch.equal(dropout_masks(torch.Generator().manual_seed(3), (4, 8), 0.5),
                       dropout_masks(torch.Generator().manual_seed(3), (4, 8), 0.5))
    assert not torch.equal(dropout_masks(torch.Generator().manual_seed(3), (64, 64), 0.5),
                           dropout_masks(torch.Generator().manual_seed(4), (64, 64), 0.5))


def test_dropout_is_off_in_evaluation(small_data):
    with_dropout = small_trainer(small_data, dropout=0.5, optimizer="adamw", lr=1e-2, steps=300)
    with_dropout.run()
    X = small_data.X["dev"]
    with torch.no_grad():
        a, _ = with_dropout.model(X)
        b, _ = with_dropout.model(X)
    assert torch.equal(a, b)  # evaluation is deterministic: no mask anywhere
    losses = [with_dropout.evaluate()["dev"] for _ in range(2)]
    assert losses[0] == losses[1]


def test_dropout_changes_training_and_is_reproducible(small_data):
    runs = [small_trainer(small_data, dropout=d, steps=400) for d in (0.0, 0.3, 0.3)]
    for tr in runs:
        tr.run()
    w = [torch.cat([p.detach().flatten() for p in tr.model.parameters()]) for tr in runs]
    assert not torch.equal(w[0], w[1])
    assert torch.equal(w[1], w[2])


def test_best_dev_weights_are_restored_exactly(small_data):
    tr = small_trainer(small_data, steps=3000, lr=0.5)
    while tr.step < 3000:  # evaluate dev after every chunk
        assert tr.train_chunk()
        tr.evaluate(("dev",))
    assert tr.best_dev_step > 0
    best_losses = [ls for step, ls in tr.evals if step == tr.best_dev_step]
    assert best_losses and best_losses[0]["dev"] == tr.best_dev
    assert tr.restore_best()
    assert tr.evaluate(("dev",))["dev"] == tr.best_dev  # bit-identical weights give the same loss


def test_patience_stops_early(small_data, monkeypatch):
    import core.engine.session

    monkeypatch.setattr(core.engine.session, "EVAL_INTERVAL", 0.0)  # a scheduled evaluation after every chunk
    monkeypatch.setattr(core.engine.session, "EVAL_SHARE", 0.0)
    tr = small_trainer(small_data, steps=10**7, lr=0.5, patience=3)
    s = core.engine.session.Session(tr)
    s.resume()
    s.step_for(60)
    snap = s.snapshot()
    assert tr.step < 10**7 and snap.status == "done"
    assert snap.message == "stopped early: no better dev loss in 3 evaluations"
    assert s.stale == 3


def test_minutes_stops_on_time(small_data):
    tr = small_trainer(small_data, steps=10**9, minutes=0.02)  # 1.2 s
    t0 = time.perf_counter()
    tr.run()
    took = time.perf_counter() - t0
    # It stops at the first chunk boundary past the budget: a chunk is ~50 ms alone, but can take several
    # times that on a busy machine (seen: 1.66 s with another process on the second core).
    assert 1.2 <= tr.wall <= 2.2 and took < 4
    assert tr.snapshot().status == "done" and tr.finished and tr.step > 100
    assert tr.snapshot().total_steps == tr.step  # the estimate converges on what was done


def test_schedules_give_the_expected_lr():
    step = TrainConfig(lr=0.1, lr_decay=0.1, decay_at=100, steps=200)
    assert [step.lr_at(s) for s in (0, 99, 100, 199)] == pytest.approx([0.1, 0.1, 0.01, 0.01])
    const = TrainConfig(lr=0.3, schedule="constant", steps=100)
    assert [const.lr_at(s) for s in (0, 50, 99)] == [0.3, 0.3, 0.3]
    cos = TrainConfig(lr=1.0, lr_decay=0.1, schedule="cosine", warmup=100, steps=1100)
    assert cos.lr_at(0) == pytest.approx(0.01)  # warm-up: (step + 1) / warmup
    assert cos.lr_at(49) == pytest.approx(0.5)
    assert cos.lr_at(99) == pytest.approx(1.0)
    assert cos.lr_at(100) == pytest.approx(1.0)  # cosine starts at the top
    assert cos.lr_at(600) == pytest.approx(0.1 + 0.9 * 0.5)  # half way: the mean of top and bottom
    assert cos.lr_at(1100) == pytest.approx(0.1)
    warm_step = TrainConfig(lr=0.2, warmup=10, steps=100, decay_at=50)
    assert warm_step.lr_at(4) == pytest.approx(0.1) and warm_step.lr_at(60) == pytest.approx(0.02)
    # a time budget stretches the schedule: progress replaces step / steps
    timed = TrainConfig(lr=1.0, lr_decay=0.0 + 0.1, schedule="cosine", minutes=1.0)
    assert timed.lr_at(10**6, progress=0.5) == pytest.approx(0.55)
    assert TrainConfig(minutes=2.0).lr_at(5, progress=0.6) == pytest.approx(0.01)


def test_the_trainer_uses_the_schedule_step_by_step(small_data):
    """Within a chunk the lr changes each step (cosine): the trainer passes one lr per step."""
    tr = small_trainer(small_data, schedule="cosine", lr=0.2, lr_decay=0.1, steps=600, warmup=50)
    seen: list[float] = []
    original = tr.kernel.run

    def spy(xs, ys, logp, lrs, *rest):
        seen.extend(lrs if isinstance(lrs, list) else [lrs] * len(xs))
        return original(xs, ys, logp, lrs, *rest)

    tr.kernel.run = spy
    tr.run()
    assert len(seen) == 600
    assert seen == pytest.approx([tr.config.lr_at(s) for s in range(600)])


def test_update_config_switches_to_the_general_kernel_and_back(small_data):
    tr = small_trainer(small_data, steps=10_000, init="kaiming")
    tr.run(200)
    plain = type(tr.kernel)  # FusedSGD, or core.kernels.jit's JitSGD where numba is installed
    assert plain.__name__ in ("FusedSGD", "JitSGD") and not tr.kernel.general
    tr.update_config(dropout=0.2)
    assert isinstance(tr.kernel, FusedGeneral)
    tr.run(200)
    tr.update_config(dropout=0.0)
    assert type(tr.kernel) is plain
    tr.run(200)
    assert tr.step == 600 and all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_adamw_trainer_learns(small_data):
    tr = Trainer(small_data, MLPConfig(n_embd=8, n_hidden=64, init="kaiming"),
                 TrainConfig(optimizer="adamw", lr=3e-3, steps=1500, weight_decay=0.01, dropout=0.1,
                             schedule="cosine", warmup=100))
    before = tr.evaluate(("train",))["train"]
    tr.run()
    after = tr.evaluate(("train",))["train"]
    assert after < before - 0.5 and math.isfinite(after)


def test_adamw_state_survives_a_checkpoint(names_data, tmp_path):
    """Resuming an AdamW run from a checkpoint continues exactly as the uninterrupted run."""
    from core.runs.checkpoint import load_checkpoint, resume_trainer, save_checkpoint

    def make():
        return small_trainer(names_data, optimizer="adamw", lr=3e-3, weight_decay=0.01, steps=600)

    straight = make()
    straight.run()
    first = make()
    first.run(steps=300)
    path = save_checkpoint(first, tmp_path / "a.pt")
    resumed = resume_trainer(load_checkpoint(path), names_data)
    assert float(resumed.kernel.state_dict()["step"]) == 300
    resumed.run()
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)

"""core.engine.train: the fused SGD kernel against autograd, and the Trainer's schedule, chunks and divergence."""

from __future__ import annotations

import copy
import math
import re

import pytest
import torch
import torch.nn.functional as F
from autograd_reference import reference_step
from conftest import history_values, small_trainer, write_words

from core.data import Dataset
from core.engine.session import Session
from core.engine.train import TrainConfig, Trainer
from core.errors import ConfigError
from core.kernels.lecture import FusedSGD
from core.link import protocol as P
from core.model import MLP, MLPConfig


def params(model: MLP) -> list[torch.Tensor]:
    return [p.detach().clone() for p in (model.C, model.W1, model.b1, model.W2, model.b2)]


def kernel_batches(X: torch.Tensor, Y: torch.Tensor, V: int, n: int, B: int, seed: int):
    """n random batches in the kernel's layout: xs (B*block_size,), flat targets ys (B,), and the plain ones."""
    ix = torch.randint(0, len(Y), (n, B), generator=torch.Generator().manual_seed(seed))
    xs = tuple(X[i].reshape(-1) for i in ix)
    ys = tuple(Y[i] + torch.arange(B) * V for i in ix)
    return xs, ys, [(X[i], Y[i]) for i in ix]


# ---------------------------------------------------------------- the fused kernel


@pytest.mark.parametrize("init", ["lecture", "kaiming"])
@pytest.mark.parametrize(("block_size", "n_embd", "n_hidden", "B"), [(3, 10, 200, 32), (5, 3, 17, 7), (1, 2, 8, 1)])
def test_fused_step_matches_autograd(names_data, init, block_size, n_embd, n_hidden, B):
    from core.data import build_examples

    words = names_data.split_words["train"][:500]
    X, Y = build_examples(words, names_data.vocab, block_size)
    V = len(names_data.vocab)
    model = MLP(MLPConfig(V, block_size, n_embd, n_hidden, init), torch.Generator().manual_seed(3))
    ref = copy.deepcopy(model)
    before = params(model)
    kernel = FusedSGD(model, B)
    xs, ys, plain = kernel_batches(X, Y, V, 1, B, seed=4)
    logp = torch.full((1, B), math.nan)
    kernel.run(xs, ys, logp, 0.1)
    loss = reference_step(ref, torch.optim.SGD(ref.parameters(), lr=0.1), *plain[0])
    assert (-logp.mean()).item() == pytest.approx(loss, abs=1e-5)
    assert not torch.equal(params(model)[3], before[3])  # the step did move the weights (the model's own)
    for name, mine, theirs in zip(("C", "W1", "b1", "W2", "b2"), params(model), params(ref)):
        assert torch.allclose(mine, theirs, atol=1e-5, rtol=1e-5), name


def test_fused_log_probs_are_per_example(names_data):
    X, Y = names_data.X["train"], names_data.Y["train"]
    V, B = len(names_data.vocab), 16
    model = MLP(MLPConfig(V, init="kaiming"), torch.Generator().manual_seed(0))
    ref = copy.deepcopy(model)
    xs, ys, plain = kernel_batches(X, Y, V, 1, B, seed=1)
    logp = torch.empty(1, B)
    FusedSGD(model, B).run(xs, ys, logp, 0.1)
    with torch.no_grad():
        expected = F.log_softmax(ref(plain[0][0])[0], 1).gather(1, plain[0][1][:, None]).squeeze(1)
    assert torch.allclose(logp[0], expected, atol=1e-5)


@pytest.fixture
def default_dtype(request):
    """Run a test with torch's default dtype set to request.param (the kernel allocates its buffers with it)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(request.param)
    yield request.param
    torch.set_default_dtype(old)


# In float32 the lecture init's saturated tanh units (1 - h^2 of h ~ +-1) make the two float32 computations drift
# apart by ~1e-3 over tens of steps (rounding only); in float64 both agree to ~1e-12 whatever the init.
@pytest.mark.parametrize(
    ("init", "default_dtype", "tol"),
    [("kaiming", torch.float32, 1e-4), ("kaiming", torch.float64, 1e-9), ("lecture", torch.float64, 1e-9)],
    indirect=["default_dtype"],
)
def test_fused_steps_track_autograd_over_many_steps(names_data, init, default_dtype, tol):
    X, Y = names_data.X["train"], names_data.Y["train"]
    V, B, n = len(names_data.vocab), 32, 50
    model = MLP(MLPConfig(V, init=init), torch.Generator().manual_seed(2147483647))
    assert model.W1.dtype == default_dtype
    ref = copy.deepcopy(model)
    xs, ys, plain = kernel_batches(X, Y, V, n, B, seed=5)
    logp = torch.empty(n, B)
    FusedSGD(model, B).run(xs, ys, logp, 0.1)  # n steps in one call
    sgd = torch.optim.SGD(ref.parameters(), lr=0.1)  # the lecture's p.data += -lr * p.grad
    losses = torch.tensor([reference_step(ref, sgd, Xb, Yb) for Xb, Yb in plain])
    assert torch.allclose(-logp.mean(1), losses, atol=tol, rtol=tol)
    assert losses[-10:].mean() < losses[:10].mean()  # it is learning
    for name, mine, theirs in zip(("C", "W1", "b1", "W2", "b2"), params(model), params(ref)):
        assert torch.allclose(mine, theirs, atol=tol, rtol=tol), name


def test_fused_kernel_overfits_one_batch(small_data):
    X, Y = small_data.X["train"], small_data.Y["train"]
    # keep examples whose context always has the same target, so a perfect fit exists
    targets: dict[tuple, set] = {}
    for x, y in zip(X.tolist(), Y.tolist()):
        targets.setdefault(tuple(x), set()).add(y)
    keep = [i for i, x in enumerate(X.tolist()) if len(targets[tuple(x)]) == 1][:32]
    B, V = len(keep), len(small_data.vocab)
    assert B == 32
    Xb, Yb = X[keep], Y[keep]
    model = MLP(MLPConfig(V, init="kaiming"), torch.Generator().manual_seed(0))
    kernel = FusedSGD(model, B)
    n = 500
    xs, ys = (Xb.reshape(-1),) * n, (Yb + torch.arange(B) * V,) * n
    logp = torch.empty(n, B)
    kernel.run(xs, ys, logp, 0.5)
    losses = -logp.mean(1)
    assert losses[0].item() == pytest.approx(math.log(V), abs=0.1)
    assert losses[-1] < 0.1
    _, loss = model(Xb, Yb)
    assert loss.item() < 0.1


# ---------------------------------------------------------------- TrainConfig


def test_train_config_defaults_are_the_lectures():
    c = TrainConfig()
    assert (c.batch_size, c.lr, c.lr_decay, c.decay_at, c.steps, c.seed) == (32, 0.1, 0.1, 100_000, 200_000, 2147483647)


def test_lr_step_decay():
    c = TrainConfig(lr=0.1, lr_decay=0.1, decay_at=100)
    assert c.lr_at(0) == 0.1 and c.lr_at(99) == 0.1
    assert c.lr_at(100) == pytest.approx(0.01) and c.lr_at(10**6) == pytest.approx(0.01)
    assert TrainConfig(lr=0.5, lr_decay=0.2, decay_at=0).lr_at(0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kw",
    [{"batch_size": 0}, {"batch_size": 1 << 17}, {"steps": 0}, {"steps": 1.5}, {"lr": 0}, {"lr": -0.1},
     {"lr": math.nan}, {"lr": math.inf}, {"lr": "0.1"}, {"lr_decay": 0}, {"decay_at": -1}, {"seed": -1}],
)
def test_bad_train_config_is_a_config_error(kw, small_data):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**kw).validate()
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError):
        Trainer(small_data, MLPConfig(), TrainConfig(**kw))


# ---------------------------------------------------------------- Trainer


def test_trainer_fills_vocab_and_block_size_from_the_data(small_data):
    tr = Trainer(small_data, MLPConfig(vocab_size=99, block_size=7, n_hidden=20), TrainConfig())
    assert tr.model_config.vocab_size == len(small_data.vocab)
    assert tr.model_config.block_size == 3
    assert tr.model.C.shape == (len(small_data.vocab), 10)
    assert tr.step == 0 and tr.snapshot().status == "idle"


@pytest.mark.slow
def test_same_seed_same_losses_on_names(names_data):
    """The lecture's model and recipe, 3,000 steps: bit-identical, whatever the chunking."""
    runs = []
    for seed in (2147483647, 2147483647, 1):
        tr = Trainer(names_data, MLPConfig(), TrainConfig(seed=seed))
        tr.run(3000)
        assert tr.step == 3000
        runs.append((history_values(tr), params(tr.model)))
    (h1, w1), (h2, w2), (h3, w3) = runs
    assert len(h1) == 3000
    assert torch.equal(h1, h2)
    assert all(torch.equal(a, b) for a, b in zip(w1, w2))
    assert not torch.equal(h1, h3)
    assert not torch.equal(w1[1], w3[1])
    assert (10 ** h1[-500:]).mean() < (10 ** h1[:100]).mean() - 5  # from ~20 nats towards ~2.5


def test_chunking_does_not_change_the_batches(small_data):
    a = small_trainer(small_data, seed=9)
    a.run(600)
    b = small_trainer(small_data, seed=9)
    for _ in range(40):
        b.run(15)
    assert a.step == b.step == 600
    assert torch.equal(history_values(a), history_values(b))
    assert all(torch.equal(p, q) for p, q in zip(params(a.model), params(b.model)))


def test_batches_cross_pool_boundaries_deterministically(small_data):
    # batch 4096 -> pools of 32 batches: 100 steps draw four pools
    a = small_trainer(small_data, batch_size=4096, seed=3)
    a.run(100)
    b = small_trainer(small_data, batch_size=4096, seed=3)
    b.run(33)
    b.run(67)
    assert torch.equal(history_values(a), history_values(b))


def test_run_runs_exactly_the_steps_asked(small_data):
    tr = small_trainer(small_data, steps=250)
    tr.run(137)
    assert tr.step == 137 and tr.history.steps == 137
    assert tr.snapshot().status == "idle" and tr.snapshot().step == 137
    tr.run(63)
    assert tr.step == 200 and tr.history.steps == 200
    tr.run(10**6)  # capped by config.steps
    assert tr.step == 250 and tr.history.steps == 250
    assert tr.snapshot().status == "done"
    tr.run()
    assert tr.step == 250


def test_run_without_steps_runs_config_steps(small_data):
    tr = small_trainer(small_data, steps=321)
    tr.run()
    snap = tr.snapshot()
    assert tr.step == 321 and snap.step == 321 and snap.total_steps == 321
    assert snap.status == "done"
    assert math.isfinite(snap.last_loss)
    assert snap.last_loss == pytest.approx(float((10 ** history_values(tr)[-100:].double()).mean()), rel=1e-4)


def test_decay_applies_from_decay_at_exactly(small_data):
    a = small_trainer(small_data, lr=0.1, lr_decay=0.5, decay_at=50, seed=1)
    b = small_trainer(small_data, lr=0.1, lr_decay=0.5, decay_at=10**9, seed=1)
    a.run(100)
    b.run(100)
    ha, hb = history_values(a), history_values(b)
    # the loss of step 50 is measured before its update: equal; the update of step 50 uses the decayed lr
    assert torch.equal(ha[:51], hb[:51])
    assert not torch.equal(ha[51:52], hb[51:52])
    assert a.lr == pytest.approx(0.05) and b.lr == 0.1
    assert a.snapshot().lr == pytest.approx(0.05)


def test_set_lr_overrides_the_schedule(small_data):
    tr = small_trainer(small_data, lr=0.1, lr_decay=0.5, decay_at=20, seed=4)
    ref = small_trainer(small_data, lr=0.03, decay_at=10**9, seed=4)
    assert tr.lr == 0.1
    tr.set_lr(0.03)  # takes effect from the next chunk
    tr.run(100)
    ref.run(100)
    assert tr.lr == 0.03 and tr.lr_override == 0.03
    assert torch.equal(history_values(tr), history_values(ref))  # 0.03 throughout, no decay at 20
    tr.set_lr(None)
    tr.run(1)
    assert tr.lr_override is None and tr.lr == pytest.approx(0.05)
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ConfigError):
            tr.set_lr(bad)


def test_the_session_tells_each_chunk_evaluation_and_end_through_events(small_data):
    """What the Trainer's callbacks used to tell now comes from the Session, the one driver, as typed events."""
    tr = small_trainer(small_data, steps=400)
    events: list = []
    s = Session(tr, emit=events.append)
    assert s.resume()
    steps = []
    while s.step():
        steps.append(tr.step)
    assert steps == sorted(steps) and len(set(steps)) == len(steps) and tr.step == 400
    assert math.isfinite(tr.snapshot().last_loss)
    done = [e for e in events if isinstance(e, P.Done)]
    assert len(done) == 1 and done[0].step == 400
    evals = [e for e in events if isinstance(e, P.Evaluated)]
    assert evals and evals[-1].step == 400 and set(evals[-1].losses) == {"train", "dev", "test"}
    assert not [e for e in events if isinstance(e, P.Diverged)]
    assert s.status == "done" and s.snapshot().status == "done"


def test_evaluate_and_best_dev(small_data):
    tr = small_trainer(small_data, n_hidden=64, lr=0.2)
    first = tr.evaluate()
    assert set(first) == {"train", "dev", "test"}
    assert all(math.isfinite(v) for v in first.values())
    assert first["dev"] == pytest.approx(math.log(len(small_data.vocab)), abs=0.1)  # kaiming init
    assert tr.best_dev == first["dev"] and tr.best_dev_step == 0
    tr.run(1500)
    second = tr.evaluate()
    assert second["train"] < first["train"] - 0.5
    assert tr.best_dev == min(first["dev"], second["dev"])
    assert tr.best_dev_step == (1500 if second["dev"] < first["dev"] else 0)
    with torch.no_grad():
        tr.model.W2.mul_(100)  # a much worse model
    third = tr.evaluate()
    assert third["dev"] > tr.best_dev
    assert tr.best_dev == min(first["dev"], second["dev"])
    assert [s for s, _ in tr.evals] == [0, 1500, 1500]
    snap = tr.snapshot()
    assert snap.split_losses == third and snap.eval_step == 1500 and snap.best_dev == tr.best_dev
    assert tr.evaluate(("dev",)).keys() == {"dev"}


def test_pause_holds_the_steps_and_resume_goes_on(small_data):
    tr = small_trainer(small_data, steps=10**9, decay_at=10**9)
    s = Session(tr)
    assert s.resume()
    s.step_for(0.2)
    assert tr.step > 0
    s.pause()
    held = tr.step
    assert s.snapshot().status == "paused" and s.snapshot().step == held
    assert s.step() is False and tr.step == held  # no steps while paused
    s.apply({"lr": 0.05})  # a change while paused takes effect ...
    assert tr.lr == 0.05 and tr.step == held
    assert s.resume()
    s.step_for(0.1)
    assert tr.step > held  # ... and training goes on
    s.finish("stopped")
    assert s.status == "stopped" and tr.history.steps == tr.step


def test_finish_while_paused_ends_the_run(small_data):
    tr = small_trainer(small_data, steps=10**9)
    s = Session(tr)
    assert s.status == "paused"
    s.finish("stopped")
    assert s.status == "stopped" and tr.step == 0 and set(s.final_losses) == {"train", "dev", "test"}


# ---------------------------------------------------------------- divergence


def diverging_trainer(data, **kw) -> Trainer:
    # lecture init, lr 1e20: the loss becomes inf/nan within a few steps (lr 1e3..1e10 stays finite here).
    # The settings stop at lr 1,000, so the override (which code, not a user, can set) carries it.
    tr = small_trainer(data, init="lecture", n_hidden=50, lr=1000, steps=10**6, **kw)
    tr.lr_override = 1e20
    return tr


def test_nonfinite_loss_restores_the_last_finite_weights(small_data):
    tr = small_trainer(small_data, init="lecture", n_hidden=50, lr=0.1)
    tr.run(100)
    good = params(tr.model)
    tr.lr_override = 1e20
    assert tr.train_chunk() is False  # no exception
    assert tr.step == 100
    after = params(tr.model)
    assert all(torch.isfinite(p).all() for p in after)
    assert all(torch.equal(p, q) for p, q in zip(after, good))
    assert tr.diverged and tr.snapshot().status == "diverged"
    m = re.search(r"at step ([\d,]+) with lr 1e\+20", tr.message)
    assert m and int(m[1].replace(",", "")) > 100
    assert "lower learning rate" in tr.message and "diverged" in tr.message
    # lower the lr and go on
    tr.set_lr(0.05)
    assert tr.run(200)
    assert tr.step == 300 and math.isfinite(tr.snapshot().last_loss)
    assert not tr.diverged and tr.message == "" and tr.snapshot().status == "idle"
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_nonfinite_loss_in_a_session_reports_diverged(small_data):
    tr = diverging_trainer(small_data)
    start = params(tr.model)
    events: list = []
    s = Session(tr, emit=events.append)
    s.resume()
    s.step_for(30)  # returns at the divergence
    snap = s.snapshot()
    assert s.status == snap.status == "diverged" and "lower learning rate" in snap.message
    diverged = [e for e in events if isinstance(e, P.Diverged)]
    assert len(diverged) == 1 and diverged[0].message == snap.message and diverged[0].step == 0
    assert tr.step == 0  # diverged within the first chunk: back to the initial weights
    assert all(torch.equal(p, q) for p, q in zip(params(tr.model), start))
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    assert s.resume() and s.message == ""  # a resume clears the message


def test_run_returns_on_divergence(small_data):
    tr = diverging_trainer(small_data)
    assert tr.run() is False  # returns instead of waiting
    assert tr.snapshot().status == "diverged" and tr.step == 0
    assert "lower learning rate" in tr.snapshot().message


def test_history_stays_in_step_with_the_trainer_after_divergence(small_data):
    tr = small_trainer(small_data, init="lecture", n_hidden=50, lr=0.1)
    tr.run(100)
    tr.lr_override = 1e20
    assert tr.train_chunk() is False
    assert tr.step == 100
    assert tr.history.steps == tr.step


def test_update_config_changes_the_schedule_between_chunks(small_data):
    tr = small_trainer(small_data, lr=0.1, lr_decay=0.5, decay_at=1000, steps=500)
    tr.run(100)
    tr.update_config(lr=0.2, decay_at=50, steps=300)
    assert tr.config.lr == 0.2 and tr.config.decay_at == 50 and tr.config.steps == 300
    assert tr.lr == pytest.approx(0.1)  # step 100 >= decay_at 50: 0.2 * 0.5
    assert tr.snapshot().total_steps == 300
    tr.run()
    assert tr.step == 300 and tr.snapshot().status == "done"


@pytest.mark.parametrize(("changes", "fragment"), [({"batch_size": 64}, "only"), ({"seed": 1}, "only"),
                                                   ({"lr": -1.0}, "lr"), ({"steps": 0}, "steps")])
def test_update_config_refuses_bad_changes(small_data, changes, fragment):
    tr = small_trainer(small_data)
    before = tr.config
    with pytest.raises(ConfigError, match=fragment):
        tr.update_config(**changes)
    assert tr.config == before


@pytest.mark.parametrize("init", ["lecture", "kaiming"])
def test_an_exploding_but_finite_loss_is_caught_as_divergence(names_data, init):
    """lr 50 rarely gives inf or NaN (tanh saturates); the loss explodes to hundreds of nats instead."""
    tr = Trainer(names_data, MLPConfig(init=init), TrainConfig(lr=50, steps=2000))
    before = [p.detach().clone() for p in tr.model.parameters()]
    tr.run()
    snap = tr.snapshot()
    assert snap.status == "diverged" and tr.step == 0
    assert "lower learning rate" in snap.message and "lr 50" in snap.message
    assert all(torch.equal(p, q) for p, q in zip(tr.model.parameters(), before))
    # the same model at the lecture's lr trains normally past the same point
    ok = Trainer(names_data, MLPConfig(init=init), TrainConfig(lr=0.1, steps=2000))
    ok.run()
    assert ok.snapshot().status == "done" and ok.step == 2000


def test_patience_without_a_dev_split_is_refused(tmp_path):
    data = Dataset.load(write_words(tmp_path / "two.txt", ["emma", "olivia"]), 3)
    with pytest.raises(ConfigError, match="dev"):
        small_trainer(data, steps=100, patience=2)


def test_trainer_refuses_a_batch_that_would_not_fit_before_allocating(small_data, monkeypatch):
    import core.engine.train

    def never(*a, **k):
        raise AssertionError("allocated before refusing")

    monkeypatch.setattr(core.engine.train, "MLP", never)
    monkeypatch.setattr(core.engine.train.Trainer, "_make_kernel", never)
    with pytest.raises(ConfigError, match="training batch"):
        Trainer(small_data, MLPConfig(n_hidden=20_000), TrainConfig(batch_size=65_536))


def test_an_absurd_lr_in_a_config_diverges_and_keeps_finite_weights(small_data):
    with pytest.raises(ConfigError, match="lr must be <= 1,000"):
        small_trainer(small_data, lr=1e300)
    tr = small_trainer(small_data, lr=1000, steps=1000)  # the largest lr the settings take
    before = [t.clone() for t in tr.model.parameters()]
    tr.run()
    snap = tr.snapshot()
    assert snap.status == "diverged" and "training diverged" in snap.message and "\n" not in snap.message
    assert tr.step == 0
    for a, b in zip(before, tr.model.parameters()):
        assert torch.equal(a, b.detach())


def test_heavy_dropout_divergence_blames_dropout_not_the_lr(small_data):
    tr = small_trainer(small_data, dropout=0.9, lr=1000, steps=5000, init="lecture")
    tr.run()
    if tr.snapshot().status == "diverged":
        assert "lower dropout" in tr.snapshot().message and "learning rate" not in tr.snapshot().message

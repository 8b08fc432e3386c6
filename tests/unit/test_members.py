"""core.kernels.members: an ensemble stored as one block-structured MLP, trained member by member."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import SMALL_WORDS, write_words

from core.config import MLPConfig, TrainConfig
from core.data import Dataset
from core.engine.train import Trainer
from core.kernels import make_kernel
from core.kernels.members import MembersKernel, fold, unfold
from core.model import MLP, split_loss
from core.probes.sample import sample
from core.runs.checkpoint import load_checkpoint, resume_trainer, save_checkpoint

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ensemble-run"  # written by the code before version 2


def members_model(K: int = 2, seed: int = 0, **kw) -> MLP:
    cfg = MLPConfig(vocab_size=27, **{"block_size": 3, "n_embd": 4 * K, "n_hidden": 8 * K, "init": "kaiming",
                                      "members": K, **kw})
    return MLP(cfg, torch.Generator().manual_seed(seed))


def split(model: MLP) -> list[MLP]:
    """The members as models of their own, from the merged weights."""
    K, T = model.config.members, model.config.block_size
    out = [MLP(model.config.member()) for _ in range(K)]
    unfold([p.detach() for p in model.parameters()], [[p.detach() for p in m.parameters()] for m in out], T,
           model.member_b2)
    return out


def off_diagonal(model: MLP) -> torch.Tensor:
    """W1's blocks that join one member's embeddings to another's hidden units (must stay 0)."""
    K, T, E, H = model.config.members, model.config.block_size, model.config.n_embd, model.config.n_hidden
    W = model.W1.detach().view(T, K, E // K, K, H // K)
    mask = ~torch.eye(K, dtype=torch.bool)
    return W.permute(1, 3, 0, 2, 4)[mask]


def test_the_merged_logits_are_the_members_mean():
    model = members_model(K=4, block_size=4)
    X = torch.randint(0, 27, (50, 4), generator=torch.Generator().manual_seed(1))
    parts = split(model)
    mean = sum(m(X)[0] for m in parts) / 4
    assert torch.allclose(model(X)[0], mean, atol=1e-6)
    dense = torch.tanh(model.C[X].view(50, -1) @ model.W1 + model.b1) @ model.W2 + model.b2  # as any MLP reads it
    assert torch.allclose(dense, mean, atol=1e-6)
    assert not torch.allclose(parts[0](X)[0], parts[1](X)[0], atol=1e-2)  # members drawn apart
    assert float(off_diagonal(model).abs().max()) == 0.0
    assert torch.allclose(model.b2, model.member_b2.mean(0))


def test_parameter_count_is_the_members_own():
    cfg = MLPConfig(block_size=12, n_embd=96, n_hidden=2048, members=4)
    one = MLPConfig(block_size=12, n_embd=24, n_hidden=512)
    assert cfg.num_params() == 4 * one.num_params() == 4 * 162_467
    assert MLP(cfg).num_params() == cfg.num_params()
    assert "4 members" in cfg.arch_label()


@pytest.mark.parametrize("kernel", ["", "torch"])
@pytest.mark.parametrize("recipe", [dict(), dict(optimizer="adamw", lr=3e-3, dropout=0.2, weight_decay=0.01)])
def test_each_member_trains_as_a_model_of_its_own(kernel, recipe, monkeypatch):
    """Member k in the ensemble ends exactly where its own model, on its own kernel, batches and masks
    would: nothing couples the members."""
    monkeypatch.setenv("MLP_TUI_KERNEL", kernel)
    cfg = TrainConfig(batch_size=8, **recipe)
    model = members_model(K=2)
    alone = split(model)
    ens = make_kernel(model, cfg)
    assert isinstance(ens, MembersKernel) and ens.name == ("torch" if kernel else "numba")
    n, B, T, V = 40, 8, 3, 27
    g = torch.Generator().manual_seed(3)
    xs, ys = torch.randint(0, V, (2, n, B * T), generator=g), torch.randint(0, V, (2, n, B), generator=g)
    ys = ys + ens.row_offset
    masks = (torch.rand(n, 2, B, 8, generator=g) > 0.2).float() / 0.8 if cfg.dropout else None
    logp = torch.empty(n, B)
    ens.run(xs, ys, logp, [cfg.lr] * n, *((masks,) if ens.general else ()))
    lps = []
    for k, m in enumerate(alone):
        own = make_kernel(m, cfg)
        lp = torch.empty(n, B)
        x, y = (xs[k], ys[k]) if getattr(own, "stacked", False) else (xs[k].unbind(0), ys[k].unbind(0))
        mk = None if masks is None else (masks[:, k].contiguous() if getattr(own, "stacked", False)
                                         else masks[:, k].unbind(0))
        own.run(x, y, lp, [cfg.lr] * n, *((mk,) if own.general else ()))
        lps.append(lp)
    for a, b in zip(split(model), alone):
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)
    assert torch.allclose(logp, (lps[0] + lps[1]) / 2)
    assert float(off_diagonal(model).abs().max()) == 0.0


def test_two_threads_train_the_same_weights_as_one(names_data, monkeypatch):
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    runs = []
    for threads in (1, 2):
        tr = Trainer(names_data, MLPConfig(n_embd=8, n_hidden=32, members=2, init="kaiming"),
                     TrainConfig(steps=600, optimizer="adamw", lr=3e-3, dropout=0.1))
        tr.threads = threads
        assert tr.run()
        runs.append([p.detach().clone() for p in tr.model.parameters()])
    assert all(torch.equal(p, q) for p, q in zip(*runs))


def test_an_ensemble_beats_its_members_on_dev(names_data):
    tr = Trainer(names_data, MLPConfig(n_embd=8, n_hidden=64, members=2, init="kaiming"),
                 TrainConfig(steps=3000, optimizer="adamw", lr=3e-3))
    assert tr.run()
    dev = tr.evaluate(("dev",))["dev"]
    from core.model import split_loss

    alone = [split_loss(m, names_data.X["dev"], names_data.Y["dev"]) for m in split(tr.model)]
    assert dev < min(alone) - 0.005, (dev, alone)


def test_a_rollback_or_best_weights_put_back_reach_the_members(names_data):
    tr = Trainer(names_data, MLPConfig(n_embd=8, n_hidden=32, members=2), TrainConfig(steps=400, lr=0.1))
    assert tr.run(200)
    tr.evaluate(("dev",))
    best = [p.detach().clone() for p in tr.model.parameters()]
    assert tr.run(400)
    assert tr.restore_best()
    tr.update_config(steps=600)
    tr.set_lr(1e-12)  # a step that barely moves: the members must start from the restored weights
    assert tr.run(600)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(tr.model.parameters(), best))
    tr.set_lr(1e6)
    tr.update_config(steps=800)
    before = [p.detach().clone() for p in tr.model.parameters()]
    assert tr.run(800) is False and tr.diverged
    assert all(torch.equal(p, q) for p, q in zip(tr.model.parameters(), before))
    tr.set_lr(1e-12)
    assert tr.run(800)  # after the rollback the members start again from the model's weights
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(tr.model.parameters(), before))


@pytest.mark.parametrize("recipe", [dict(lr=0.1), dict(optimizer="adamw", lr=3e-3, dropout=0.1)])
def test_a_checkpoint_resumes_the_members(names_data, tmp_path, recipe):
    """Each member's own b2 travels in the model's buffer and its AdamW moments in the optimizer state, so a
    resumed ensemble goes on exactly as the uninterrupted one."""
    mcfg = MLPConfig(n_embd=8, n_hidden=32, members=2, init="kaiming")
    whole = Trainer(names_data, mcfg, TrainConfig(steps=600, **recipe))
    assert whole.run()
    half = Trainer(names_data, mcfg, TrainConfig(steps=600, **recipe))
    assert half.run(300)
    save_checkpoint(half, tmp_path / "m.pt")
    ck = load_checkpoint(tmp_path / "m.pt")
    assert ck.model_config.members == 2 and ck.model.member_b2.shape == (2, 27)
    again = resume_trainer(ck, names_data)
    assert again.run()
    for p, q in zip([*again.model.parameters(), again.model.member_b2], [*whole.model.parameters(),
                                                                        whole.model.member_b2]):
        assert torch.equal(p, q)


def test_fold_and_unfold_are_inverse():
    model = members_model(K=4, block_size=2)
    merged = [p.detach().clone() for p in model.parameters()]
    parts = [[torch.empty_like(p) for p in m.parameters()] for m in split(model)]
    unfold(merged, parts, 2, model.member_b2)
    again = [torch.zeros_like(p) for p in merged]
    fold(parts, again, 2, model.member_b2.clone())
    assert all(torch.equal(a, b) for a, b in zip(merged, again))


def test_a_damaged_ensemble_checkpoint_is_refused_by_name(names_data, tmp_path):
    """Version 2 keeps the members' blocks of W1; a version 1 file (dense) whose W1 joins members is refused, as is
    a version 2 file whose W1 is not the blocks, or whose b2 is not the members' mean."""
    from core.errors import CheckpointError
    from core.model import dense_w1

    tr = Trainer(names_data, MLPConfig(n_embd=8, n_hidden=32, members=2), TrainConfig(steps=50, lr=0.1))
    assert tr.run()
    save_checkpoint(tr, tmp_path / "m.pt")
    ck = torch.load(tmp_path / "m.pt", weights_only=False)
    assert ck["version"] == 2 and ck["model"]["W1"].shape == (2, 3, 4, 16)  # (members, block, n_embd/2, n_hidden/2)
    joined = dense_w1(ck["model"]["W1"]).fill_(0.3)
    for version, key, value, fragment in (
            (1, "W1", joined, "joins one member's embeddings"),
            (2, "W1", joined, "W1 has shape 24x32, the model's settings need 2x3x4x16"),
            (2, "member_b2", ck["model"]["member_b2"] + 5.0, "b2 is not the mean")):
        torch.save({**ck, "version": version, "model": {**ck["model"], key: value}}, tmp_path / "bad.pt")
        with pytest.raises(CheckpointError, match=fragment):
            load_checkpoint(tmp_path / "bad.pt")


def test_members_must_be_a_power_of_two_and_the_size_limit_sees_the_dense_model():
    with pytest.raises(Exception, match="power of two"):
        MLPConfig(n_embd=6, n_hidden=30, members=3).validate()
    big = MLPConfig(block_size=256, n_embd=128, n_hidden=10_800, members=16)
    assert big.num_params() < 200_000_000 < big.stored_params()
    with pytest.raises(Exception, match="parameters"):
        big.validate()


def test_a_member_that_fails_leaves_the_next_chunk_to_start_from_the_model(monkeypatch):
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    model = members_model(K=2)
    ens = make_kernel(model, TrainConfig(batch_size=4))
    ens.threads = 2
    before = [p.detach().clone() for p in model.parameters()]
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randint(0, 27, (2, 5, 12), generator=g), torch.randint(0, 27, (2, 5, 4), generator=g)

    def broken(*args):
        raise RuntimeError("member 1 broke")

    monkeypatch.setattr(ens.kernels[1], "run", broken)
    with pytest.raises(RuntimeError, match="member 1 broke"):
        ens.run(xs, ys + ens.row_offset, torch.empty(5, 4), 0.1)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))  # nothing folded
    monkeypatch.undo()
    ens.run(xs, ys + ens.row_offset, torch.empty(5, 4), 0.0)  # lr 0: the members start again from the model
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_an_ensemble_checkpoint_holds_its_members_blocks_only(tmp_path):
    """`--preset best`'s model (4 members) under AdamW: version 2 stores W1 and its two moments as the members'
    blocks, a quarter of the dense ones, so the file is under a third of the dense weights and moments (29 MB
    before, 7.8 MB now), and it loads back to the same weights and moments."""
    from core import settings

    data = Dataset.load(write_words(tmp_path / "w.txt", SMALL_WORDS), 12)
    vals = settings.resolve({"steps": 3}, "best")
    mcfg = MLPConfig(vocab_size=len(data.vocab), **settings.values_for("model", vals))
    tr = Trainer(data, mcfg, TrainConfig(**settings.values_for("train", vals)))
    assert tr.run()
    path = save_checkpoint(tr, tmp_path / "m.pt")
    dense = 4 * 3 * sum(p.numel() for p in tr.model.parameters())  # float32 weights and AdamW's two moments
    assert path.stat().st_size <= dense / 3
    raw = torch.load(path, weights_only=True)
    assert raw["version"] == 2 and raw["model"]["W1"].shape == (4, 12, 24, 512)
    assert [t.shape for t in raw["optimizer"]["state"]["exp_avg"]][1] == (4, 12, 24, 512)
    ck = load_checkpoint(path)
    assert all(torch.equal(p, q) for p, q in zip(ck.model.state_dict().values(), tr.model.state_dict().values()))
    state = tr.optimizer_state()
    for key in ("exp_avg", "exp_avg_sq"):
        assert all(torch.equal(p, q) for p, q in zip(ck.optimizer["state"][key], state[key]))


def test_an_ensemble_checkpoint_of_version_1_still_loads(names_data, tmp_path):
    """tests/fixtures/ensemble-run was written by the code before members-only checkpoints (version 1: the dense W1,
    2 members, AdamW, dropout, 300 steps). It loads to the losses that code measured, samples the names it sampled,
    resumes as it did, and saved again (version 2) it loads to the same weights."""
    raw = torch.load(FIXTURE / "model.pt", weights_only=True)
    assert raw["version"] == 1 and raw["model"]["W1"].shape == (24, 32)
    metrics = json.loads((FIXTURE / "metrics.json").read_text())
    ck = load_checkpoint(FIXTURE / "model.pt")
    assert ck.step == 300 and ck.model_config.members == 2
    for s in ("train", "dev", "test"):
        assert split_loss(ck.model, names_data.X[s], names_data.Y[s]) == pytest.approx(metrics[f"{s}_loss"], abs=1e-6)
    words = [x.text for x in sample(ck.model, ck.vocab, 6, torch.Generator().manual_seed(7))]
    assert words == ["miloi", "akmmprz", "ldnrae", "c", "oii", "aniaay"]  # as the code before sampled them
    save_checkpoint(resume_trainer(ck, names_data), tmp_path / "again.pt")
    again = load_checkpoint(tmp_path / "again.pt")
    assert torch.load(tmp_path / "again.pt", weights_only=True)["version"] == 2
    assert all(torch.equal(p, q) for p, q in zip(again.model.state_dict().values(), ck.model.state_dict().values()))
    for key in ("exp_avg", "exp_avg_sq"):
        assert all(torch.equal(p, q) for p, q in zip(again.optimizer["state"][key], ck.optimizer["state"][key]))
    ck.train_config = replace(ck.train_config, steps=400)
    tr = resume_trainer(ck, names_data)
    assert tr.run() and tr.step == 400
    assert split_loss(tr.model, names_data.X["dev"], names_data.Y["dev"]) == pytest.approx(2.6179287981788866,
                                                                                           abs=1e-6)


def test_the_split_losses_of_an_ensemble_are_all_the_ensembles(names_data):
    """The Session evaluates train (its fixed sample, here) and dev with the same model, the ensemble: its averaged
    logits, computed here from the members apart. The members' mean loss (the plot's line) is another footing."""
    import torch.nn.functional as F

    from core.engine.policy import TRAIN_SAMPLE_ROWS
    from core.engine.session import Session
    from core.link import protocol as P
    from core.probes.ensemble import members_of

    tr = Trainer(names_data, MLPConfig(n_embd=8, n_hidden=32, members=2, init="kaiming"),
                 TrainConfig(steps=300, optimizer="adamw", lr=3e-3))
    assert tr.run()
    events: list = []
    session = Session(tr, emit=events.append)
    session.train_full_cost = 1e9  # over the budget: the train split's fixed sample, as between full passes
    session.evaluate(full=False)
    (ev,) = [e for e in events if isinstance(e, P.Evaluated)]
    assert ev.train_coverage == "sample"
    members = members_of(tr.model)
    with torch.no_grad():
        for split, rows in (("train", TRAIN_SAMPLE_ROWS), ("dev", None)):
            X, Y = names_data.X[split][:rows], names_data.Y[split][:rows]
            logits = torch.stack([m(X)[0] for m in members])  # (members, rows, vocab)
            ensemble = F.cross_entropy(logits.mean(0), Y).item()
            mean = sum(F.cross_entropy(lg, Y).item() for lg in logits) / len(members)
            assert ev.losses[split] == pytest.approx(ensemble, abs=1e-5), split
            assert ev.losses[split] < mean - 1e-3, split  # the members' mean is worse: another model's loss

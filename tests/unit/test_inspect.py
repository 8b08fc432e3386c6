"""core.probes.inspection: PCA, the vowel clustering of trained embeddings, the lr finder, scoring, health."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from core.config import TrainConfig
from core.data import build_examples
from core.engine.train import Trainer
from core.model import MLP, MLPConfig
from core.probes.inspection import ScoreError, embedding_map, health, lr_find, pca2, saturation, score, vowel_spread


def test_pca2_of_a_known_matrix():
    # Variance 18 along x, 2 along y, 0.5 along z: the top two axes are x and y.
    X = torch.tensor([[3.0, 0, 0], [-3, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 0.5], [0, 0, -0.5]]) + 7.0
    pts, share = pca2(X)
    assert pts.shape == (6, 2)
    assert share == pytest.approx(20 / 20.5)
    torch.testing.assert_close(pts[:, 0].abs(), torch.tensor([3.0, 3, 0, 0, 0, 0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(pts[:, 1].abs(), torch.tensor([0.0, 0, 1, 1, 0, 0]), atol=1e-6, rtol=0)


def test_embedding_map_uses_raw_dimensions_when_there_are_two(small_data):
    model = MLP(MLPConfig(vocab_size=len(small_data.vocab), n_embd=2), torch.Generator().manual_seed(0))
    m = embedding_map(model, small_data.vocab)
    assert m.axes == "dims" and m.explained == 1.0
    assert m.chars == "".join(small_data.vocab.itos)
    assert m.points == [tuple(r) for r in model.C.detach().tolist()]


@pytest.fixture(scope="module")
def trained(names_data):
    # 4-dim embeddings: the characters must share little room, so similar ones end up close (10 dims
    # take ~100K steps to show it as clearly).
    tr = Trainer(names_data, MLPConfig(n_embd=4, n_hidden=100, init="kaiming"),
                 TrainConfig(steps=30_000, batch_size=64, lr=0.1, decay_at=20_000))
    tr.run()
    return tr


@pytest.mark.slow
def test_trained_embeddings_cluster_the_vowels(trained, names_data):
    among, between = vowel_spread(trained.model.C, names_data.vocab)
    assert among < 0.85 * between, (among, between)  # random 10-dim ones: 0.88-1.09
    m = embedding_map(trained.model, names_data.vocab)
    assert m.axes == "pca" and 0 < m.explained < 1 and len(m.points) == 27


def test_lr_finder_leaves_the_model_alone_and_suggests_a_sane_lr(names_data):
    model = MLP(MLPConfig(n_hidden=100, init="kaiming"), torch.Generator().manual_seed(1))
    before = copy.deepcopy(model.state_dict())
    res = lr_find(model, names_data, n=1000)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert len(res.lrs) == len(res.losses) == len(res.smoothed) == 1000
    assert res.lrs[0] == pytest.approx(1e-3) and res.lrs[-1] == pytest.approx(1.0)
    assert 1e-3 <= res.suggestion <= 1.0
    # the loss did fall over the sweep: the model learned something before the lr got too large
    assert min(res.smoothed) < res.smoothed[50] - 0.3


def test_lr_finder_with_batchnorm(names_data):
    model = MLP(MLPConfig(n_hidden=64, batchnorm=True), torch.Generator().manual_seed(1))
    rv = model.running_var.clone()
    res = lr_find(model, names_data, n=300)
    assert torch.equal(model.running_var, rv)
    assert 1e-3 <= res.suggestion <= 1.0


@pytest.mark.slow
def test_score_total_nll_equals_the_models_loss_on_the_same_examples(trained, names_data):
    model, vocab = trained.model, names_data.vocab
    s = score(model, vocab, "kaleigh")
    X, Y = build_examples(["kaleigh"], vocab, model.config.block_size)  # 8 examples
    _, loss = model(X, Y)
    assert len(s.positions) == 8
    assert s.nll == pytest.approx(loss.item() * 8, rel=1e-5)
    assert [p.char for p in s.positions] == list("kaleigh.")
    assert s.positions[0].context == "..."
    assert s.positions[-1].context == "igh"
    for p in s.positions:
        assert 0 < p.prob < 1
        assert len(p.alternatives) == 3
        assert p.alternatives[0][1] >= p.alternatives[1][1] >= p.alternatives[2][1]
        assert p.alternatives[0][1] >= p.prob
    # a real name scores better than a keyboard mash
    assert score(model, vocab, "xqzjvk").mean_nll > s.mean_nll + 1


@pytest.mark.slow
def test_score_refuses_unknown_characters(trained, names_data):
    with pytest.raises(ScoreError, match="'7'"):
        score(trained.model, names_data.vocab, "abc7")
    with pytest.raises(ScoreError):
        score(trained.model, names_data.vocab, "a.b")


def test_saturation_on_a_hand_made_hidden_tensor():
    h = torch.tensor([[0.99, -0.98, 0.1, 0.0], [0.999, 0.5, -0.99, 0.2], [-1.0, 0.2, 0.3, 0.96]])  # (3, 4)
    share, dead = saturation(h)
    assert share == pytest.approx(5 / 12)
    assert dead == 1  # only unit 0 is saturated on every row


def test_health_reports_without_touching_the_model(names_data):
    model = MLP(MLPConfig(n_hidden=50), torch.Generator().manual_seed(2))  # lecture init: saturated tanh
    before = copy.deepcopy(model.state_dict())
    X, Y = names_data.X["train"][:256], names_data.Y["train"][:256]
    h = health(model, X, Y, lr=0.1, step=7)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert h.step == 7 and h.n_hidden == 50
    assert sum(h.hist_counts) == 256 * 50 and len(h.hist_edges) == len(h.hist_counts) + 1
    assert set(h.grad_ratio) == {"C", "W1", "b1", "W2", "b2"}
    # SGD: the update is lr * grad, so its log10 ratio is the grad's plus log10(lr)
    for k in h.grad_ratio:
        assert h.update_ratio[k] == pytest.approx(h.grad_ratio[k] + math.log10(0.1), abs=1e-6)
    kaiming = MLP(MLPConfig(n_hidden=50, init="kaiming"), torch.Generator().manual_seed(2))
    assert health(kaiming, X, Y, lr=0.1).saturated < h.saturated
    # the loss it reports is the model's on that batch
    assert h.loss == pytest.approx(F.cross_entropy(model(X)[0], Y).item(), rel=1e-5)


def test_dataset_stats(small_data):
    from conftest import SMALL_WORDS

    from core.probes.inspection import dataset_stats

    st = dataset_stats(small_data)
    assert st["words"] == len(SMALL_WORDS) == sum(st["split_words"].values())
    assert st["examples"]["train"] == len(small_data.Y["train"])
    assert sum(c for _, c in st["lengths"]) == len(SMALL_WORDS)
    assert st["longest"] == max(SMALL_WORDS, key=len)
    assert st["common"][0][0] == "a"  # the commonest letter in these names
    assert st["total_chars"] == sum(len(w) for w in SMALL_WORDS)
    assert st["mean_length"] == pytest.approx(st["total_chars"] / len(SMALL_WORDS))


def test_the_health_of_an_ensemble_reads_its_members_as_training_holds_them(names_data):
    """Each member's figures are those of the model its kernel trains (its weights, its own loss, its AdamW
    moments), the report their mean; the merged MLP's reading is off (W2 holds each member's over K, so its
    update/data ratio reads log10(K) too high, and its gradient is the averaged logits' loss's)."""
    from statistics import fmean

    from core.probes.ensemble import members_health

    tr = Trainer(names_data, MLPConfig(n_embd=16, n_hidden=64, members=4, init="kaiming"),
                 TrainConfig(steps=200, optimizer="adamw", lr=3e-3))
    assert tr.run()
    X, Y = names_data.X["train"][:256], names_data.Y["train"][:256]
    got = members_health(tr.model, X, Y, tr.lr, tr.step, adam=tr.optimizer_state())
    held = [health(m, X, Y, tr.lr, tr.step, adam=k.state_dict()) for m, k in zip(tr.kernel.models, tr.kernel.kernels)]
    assert [row[1] for row in got.members] == pytest.approx([h.loss for h in held], abs=1e-6)
    assert [(row[0], row[3], row[4]) for row in got.members] == [(k + 1, h.dead, 16) for k, h in enumerate(held)]
    assert got.n_hidden == 64 and sum(got.hist_counts) == 256 * 64 and got.loss == pytest.approx(
        fmean(h.loss for h in held), abs=1e-6)
    for name in ("C", "W1", "b1", "W2", "b2"):
        assert got.update_ratio[name] == pytest.approx(fmean(h.update_ratio[name] for h in held), abs=1e-4), name
        assert got.grad_ratio[name] == pytest.approx(fmean(h.grad_ratio[name] for h in held), abs=1e-4), name
    merged = health(tr.model, X, Y, tr.lr, tr.step, adam=tr.optimizer_state())
    assert merged.update_ratio["W2"] - got.update_ratio["W2"] == pytest.approx(math.log10(4), abs=0.1)
    assert merged.members == [] and len(got.members) == 4


def test_the_lr_finder_takes_fewer_steps_for_a_costly_step_and_none_fewer_for_characters():
    from core.probes.inspection import LR_FIND_MIN_STEPS, lr_find_steps
    from core.settings import PRESETS, resolve

    for name, preset in PRESETS.items():
        if preset.get("tokens") != "words":  # every character preset, the best ensemble too: the lecture's 1,000
            v = resolve({}, name)
            cfg = MLPConfig(vocab_size=27, **{k: v[k] for k in ("block_size", "n_embd", "n_hidden", "layers",
                                                                "arch", "direct", "members", "batchnorm")})
            assert lr_find_steps(cfg, v["batch_size"]) == 1000, name
    bengio = MLPConfig(vocab_size=5546, block_size=4, n_embd=60, n_hidden=50, direct=True)
    assert lr_find_steps(bengio, 256) == 241  # 415M multiply-adds a step
    assert lr_find_steps(MLPConfig(vocab_size=50_000, block_size=8, n_embd=64, n_hidden=512), 512) == \
        LR_FIND_MIN_STEPS


def test_the_lr_finder_stops_once_the_loss_diverges(names_data):
    model = MLP(MLPConfig(n_hidden=100, init="kaiming"), torch.Generator().manual_seed(1))
    res = lr_find(model, names_data, lo=1e-2, hi=1e4, n=1000)  # far past any sane lr
    assert 100 <= len(res.lrs) < 1000 and len(res.lrs) % 50 == 0  # stopped at a check, every 50 steps
    assert len(res.losses) == len(res.smoothed) == len(res.lrs) and res.lrs[0] == pytest.approx(1e-2)
    assert res.smoothed[-1] > 4 * min(res.smoothed) and 1e-2 <= res.suggestion < res.lrs[-1]
    full = lr_find(model, names_data, n=1000)  # the lecture's range on a character model: all of it
    assert len(full.lrs) == 1000 and full.lrs[-1] == pytest.approx(1.0)

"""core.probes.sample.sample: batched sampling, seeds, temperature, the length guard, prefixes, the in-train flag."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import SMALL_WORDS, assert_one_line, small_trainer, write_words

from core.data import Dataset
from core.errors import ConfigError
from core.model import MLP, MLPConfig
from core.probes.sample import Sample, sample
from core.runs.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = write_words(tmp_path_factory.mktemp("sample") / "words.txt", SMALL_WORDS)
    data = Dataset.load(path, 3)
    tr = small_trainer(data, n_hidden=64, lr=0.2, seed=1)
    tr.run(2000)
    return tr.model, data


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def forced_end(model: MLP, logit: float) -> MLP:
    """A copy of the model whose end-token logit is pinned: +1e4 always ends, -1e4 never ends."""
    m = MLP(model.config)
    m.load_state_dict(model.state_dict())
    with torch.no_grad():
        m.W2[:, 0] = 0
        m.b2[0] = logit
    return m


def test_n_words_over_the_vocabulary(trained):
    model, data = trained
    out = sample(model, data.vocab, 200, gen(0))
    assert len(out) == 200
    assert all(isinstance(s, Sample) for s in out)
    letters = set(data.vocab.itos[1:])
    for s in out:
        assert "." not in s.text
        assert set(s.text) <= letters
        assert s.truncated == (len(s.text) == 50)
    assert sum(s.text in data.words for s in out) > 20  # trained on these 60 names: it knows some by heart
    assert sum(len(s.text) > 0 for s in out) > 150


def test_same_seed_same_words_different_seed_different(trained):
    model, data = trained
    a = [s.text for s in sample(model, data.vocab, 30, gen(5))]
    b = [s.text for s in sample(model, data.vocab, 30, gen(5))]
    c = [s.text for s in sample(model, data.vocab, 30, gen(6))]
    assert a == b
    assert a != c


def test_sampling_leaves_the_models_mode(trained):
    model, data = trained
    model.train()
    sample(model, data.vocab, 3, gen(0))
    assert model.training
    model.eval()
    sample(model, data.vocab, 3, gen(0))
    assert not model.training


@pytest.mark.parametrize("temperature", [-1.0, -1e-300, math.nan])
def test_temperature_must_not_be_negative(trained, temperature):
    model, data = trained
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample(model, data.vocab, 5, gen(0), temperature=temperature)


@pytest.mark.parametrize("temperature", [0, 0.0, 1e-300, 1e-45, 1e-7])
def test_a_temperature_near_zero_is_greedy_and_safe(trained, temperature):
    """logits / 1e-300 overflow to inf and softmax to NaN: near zero means the most likely character."""
    model, data = trained
    words = [s.text for s in sample(model, data.vocab, 6, gen(3), temperature=temperature)]
    assert len(set(words)) == 1  # greedy from the same start: the same word every time
    again = [s.text for s in sample(model, data.vocab, 6, gen(4), temperature=0)]
    assert words == again


def test_low_temperature_is_greedy(trained):
    model, data = trained
    a = {s.text for s in sample(model, data.vocab, 20, gen(1), temperature=1e-3)}
    b = {s.text for s in sample(model, data.vocab, 20, gen(2), temperature=1e-3)}
    assert len(a) == 1 and a == b  # argmax every time, whatever the seed


def test_high_temperature_is_wilder(trained):
    model, data = trained
    cold = sample(model, data.vocab, 300, gen(3), temperature=0.5)
    hot = sample(model, data.vocab, 300, gen(3), temperature=3.0)
    assert len({s.text for s in hot}) > len({s.text for s in cold})


def test_no_words_for_n_below_one(trained):
    model, data = trained
    assert sample(model, data.vocab, 0, gen(0)) == []


def test_length_guard_truncates(trained):
    model, data = trained
    never_ends = forced_end(model, -1e4)
    out = sample(never_ends, data.vocab, 10, gen(0), max_len=7)
    assert all(len(s.text) == 7 and s.truncated for s in out)
    always_ends = forced_end(model, 1e4)
    out = sample(always_ends, data.vocab, 10, gen(0), max_len=7)
    assert all(s.text == "" and not s.truncated for s in out)
    out = sample(model, data.vocab, 100, gen(0), max_len=5)  # the end token counts: words of up to 4 letters fit
    assert any(s.truncated for s in out) and any(not s.truncated for s in out)
    for s in out:
        assert len(s.text) <= 5
        assert s.truncated == (len(s.text) == 5)


def test_in_train_flag(trained):
    model, data = trained
    out = sample(model, data.vocab, 200, gen(4), train_words=data.train_set)
    assert all(s.in_train == (s.text in data.train_set) for s in out)
    assert any(s.in_train for s in out) and any(not s.in_train for s in out)
    assert not any(s.in_train for s in sample(model, data.vocab, 200, gen(4)))  # no training set given
    texts = {s.text for s in out}
    assert all(s.in_train for s in sample(model, data.vocab, 200, gen(4), train_words=texts))


def test_prefix_is_kept_and_is_the_context(trained):
    model, data = trained
    out = sample(model, data.vocab, 50, gen(0), prefix="em")
    assert all(s.text.startswith("em") for s in out)
    # the first forward pass sees the prefix as its context: . e m
    seen: list[torch.Tensor] = []
    hook = model.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        sample(model, data.vocab, 4, gen(0), prefix="em")
    finally:
        hook.remove()
    stoi = data.vocab.stoi
    assert seen[0].tolist() == [[0, stoi["e"], stoi["m"]]] * 4
    # a prefix longer than the block keeps its last block_size characters
    seen.clear()
    hook = model.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        sample(model, data.vocab, 2, gen(0), prefix="isabel")
    finally:
        hook.remove()
    assert seen[0].tolist() == [data.vocab.encode("bel")] * 2


def test_prefix_with_an_immediate_end_and_in_train(trained):
    model, data = trained
    always_ends = forced_end(model, 1e4)
    out = sample(always_ends, data.vocab, 3, gen(0), prefix="ava", train_words={"ava"})
    assert [(s.text, s.in_train, s.truncated) for s in out] == [("ava", True, False)] * 3


def test_untrained_model_still_samples(small_data):
    model = MLP(MLPConfig(vocab_size=len(small_data.vocab), n_hidden=10), gen(0))
    out = sample(model, small_data.vocab, 20, gen(1), max_len=10)
    assert len(out) == 20 and all(len(s.text) <= 10 for s in out)


def test_sampling_streams_in_batches_of_bounded_memory(trained_run, monkeypatch):
    import core.probes.sample
    from core.probes.sample import batch_rows, row_bytes, sample_batches

    _, run = trained_run
    ck = load_checkpoint(run / "model.pt")
    monkeypatch.setattr(core.probes.sample, "BATCH_BYTES", 100 * row_bytes(ck.model))
    batches = list(sample_batches(ck.model, ck.vocab, 1234, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [100] * 12 + [34]
    assert batch_rows(ck.model) == 100
    with pytest.raises(ConfigError) as e:  # all at once: refused before allocating, with the size
        sample(ck.model, ck.vocab, 10**9)
    assert_one_line(e, "1,000,000,000 samples at once would need", "GiB")

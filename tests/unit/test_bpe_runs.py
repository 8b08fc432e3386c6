"""BPE models of running text: the data (one scale: the characters counted as for characters and words), the
checkpoint (the tokenizer saved, read back to the same ids, refused by name when damaged or mismatched), bits per
character's bookkeeping on a fixed model, Kneser-Ney on BPE tokens, and the probes (scoring, neighbours, the map)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from conftest import assert_one_line
from wordtext import write_text

from core.config import MLPConfig, TrainConfig
from core.data import Dataset
from core.engine.train import Trainer
from core.errors import CheckpointError
from core.measures import chars_per_token, split_measures
from core.model import MLP, split_loss
from core.runs.checkpoint import load_checkpoint, resume_trainer, save_checkpoint
from core.tokens import TextOptions

pytest.importorskip("tokenizers")

BPE = TextOptions("text", "bpe", bpe_vocab=300)
BYTES = TextOptions("text", "bpe", bpe_vocab=257)  # no merges: one token per byte
CHARS = TextOptions("text", "chars")


@pytest.fixture
def text(tmp_path):
    path = write_text(tmp_path / "t.txt", lines=200)
    with open(path, "a", encoding="utf-8") as f:
        f.write("Café déjà vu , naïve 🎉 .\n中文 , 日本語 .\n")  # in the test split: bytes the merges never saw
    return path


@pytest.fixture
def trainer(text) -> Trainer:
    data = Dataset.load(text, 3, options=BPE)
    tr = Trainer(data, MLPConfig(n_embd=6, n_hidden=16), TrainConfig(steps=60, optimizer="adamw", lr=0.01))
    tr.run(60)
    return tr


def test_bpe_counts_the_characters_characters_count(text):
    """One scale: the characters of each split are those a character model counts; tokens are fewer than them on
    English with merges, and chars_per_token is their ratio."""
    bpe, chars = Dataset.load(text, 3, options=BPE), Dataset.load(text, 3, options=CHARS)
    assert bpe.chars == chars.chars
    assert len(bpe.vocab) == 300 and bpe.vocab.itos[0] == "</s>"
    cpt = chars_per_token(bpe)
    assert set(cpt) == {"train", "dev", "test"} and all(cpt[s] > 1.5 for s in ("train", "dev"))
    assert cpt["test"] == bpe.chars["test"] / len(bpe.Y["test"])
    assert chars_per_token(chars) == {s: 1.0 for s in ("train", "dev", "test")}
    assert bpe.vocab.decode(bpe.Y["test"][-20:].tolist()).endswith("中文 , 日本語 .\n")


def test_the_tokenizer_learns_on_the_training_split_only(tmp_path):
    """A word only in dev and test is never merged whole: the merges come from train's lines."""
    lines = ["the cat sat"] * 80 + ["zyzzyva zyzzyva zyzzyva"] * 20
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = Dataset.load(path, 2, options=BPE)
    assert "▁cat" in data.vocab.itos and not any("zyzz" in t for t in data.vocab.itos)


def test_a_bpe_model_is_saved_and_read_back_to_the_same_ids(trainer, tmp_path):
    path = save_checkpoint(trainer, tmp_path / "model.pt")
    ckpt = load_checkpoint(path)
    assert ckpt.options == BPE and ckpt.vocab.itos == trainer.data.vocab.itos and ckpt.vocab.bpe is not None
    for line in ("And God said , Let there be light .", "Café 中文 🎉"):
        assert ckpt.vocab.encode(line) == trainer.data.vocab.encode(line)
    data = Dataset.load(ckpt.dataset, 3, ckpt.split_seed, options=ckpt.options, tokenizer=ckpt.vocab.bpe)
    assert data.vocab.bpe.seconds == 0  # read with the run's own tokenizer, none learned
    assert torch.equal(data.Y["test"], trainer.data.Y["test"])
    resumed = resume_trainer(ckpt, data)
    assert split_loss(resumed.model, data.X["dev"], data.Y["dev"]) == \
        split_loss(trainer.model, trainer.data.X["dev"], trainer.data.Y["dev"])


def other_tokenizer(tmp_path, vocab: int) -> str:
    path = tmp_path / "other.txt"
    path.write_text("completely different words here , again and again\n" * 50, encoding="utf-8")
    return Dataset.load(path, 2, options=TextOptions("text", "bpe", bpe_vocab=vocab)).vocab.bpe.spec


@pytest.mark.parametrize(("change", "expected"), [
    (lambda ck, tmp: ck.update(tokenizer="{not json"), "the tokenizer is damaged: it is not JSON"),
    (lambda ck, tmp: ck.update(tokenizer=ck["tokenizer"].replace('"ByteLevel"', '"Whitespace"', 1)),
     "the tokenizer is damaged: it is not a byte-level BPE"),
    (lambda ck, tmp: ck.update(tokenizer=other_tokenizer(tmp, 300)), "the tokenizer does not match the vocabulary"),
    (lambda ck, tmp: ck.update(tokenizer=other_tokenizer(tmp, 280)), "the tokenizer does not match the vocabulary"),
    (lambda ck, tmp: ck.pop("tokenizer"), "its tokens are bpe, but it holds no tokenizer"),
    (lambda ck, tmp: ck.update(vocab=[*ck["vocab"][:-1], "x"]), "the tokenizer does not match the vocabulary"),
    (lambda ck, tmp: ck.update(data={**ck["data"], "tokens": "chars"}),
     "it holds a tokenizer, but its tokens are chars"),
    (lambda ck, tmp: ck.update(data={**ck["data"], "bpe_vocab": 100}), "bpe_vocab"),
])
def test_a_damaged_or_mismatched_tokenizer_is_refused_by_name(trainer, tmp_path, change, expected):
    path = save_checkpoint(trainer, tmp_path / "model.pt")
    ck = torch.load(path, weights_only=True)
    change(ck, tmp_path)
    torch.save(ck, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e, str(path), "damaged checkpoint", expected)


def unigram_model(V: int, logits: torch.Tensor) -> MLP:
    """A fixed model: every weight zero but the output bias, so each token's probability is softmax(logits)
    whatever the context (the hidden layer is tanh(0) = 0)."""
    model = MLP(MLPConfig(vocab_size=V, block_size=3, n_embd=2, n_hidden=4, init="zero"))
    with torch.no_grad():
        model.get_parameter("b2").copy_(logits)
    return model


def test_bits_per_character_of_a_uniform_byte_model_is_computed_by_hand(tmp_path):
    """Bytes only (257 tokens) and a uniform model: each token costs log2(257) bits; a split's tokens are its UTF-8
    bytes and line ends, its characters its characters and line ends, so bpc = log2(257) x tokens / characters."""
    lines = ["a b c ."] * 8 + ["é ."] + ["a b ."]  # dev: "é ." (3 bytes + line end), test: "a b ." (6)
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = Dataset.load(path, 3, options=BYTES)
    model = unigram_model(257, torch.zeros(257))
    losses = {s: split_loss(model, data.X[s], data.Y[s]) for s in ("train", "dev", "test")}
    got = split_measures(data, losses)
    assert got["train"]["bpc"] == pytest.approx(math.log2(257), rel=1e-6)  # ASCII: a token per character
    assert got["dev"]["bpc"] == pytest.approx(math.log2(257) * 5 / 4, rel=1e-6)  # é is 2 bytes, 1 character
    assert got["test"]["bpc"] == pytest.approx(math.log2(257), rel=1e-6)


def test_the_same_distribution_through_characters_and_bytes_gives_the_same_bpc(tmp_path):
    """On ASCII text a byte is a character: a unigram q over the text's characters (and the line end), given to a
    character model and to a bytes-only BPE model (the bytes the text lacks at probability 0), is one
    distribution, so both give the same bits per character, the hand-computed -sum log2 q / characters."""
    lines = ["the cat sat .", "a dog ran , the cat sat .", "so it goes ."] * 10
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    chars, byte = Dataset.load(path, 3, options=CHARS), Dataset.load(path, 3, options=BYTES)
    counts = Counter("\n".join(lines) + "\n")
    q = {c: n / sum(counts.values()) for c, n in counts.items()}  # every character of the text, "\n" the line end
    char_logits = torch.tensor([math.log(q[c]) for c in chars.vocab.itos])  # itos[0] is "\n"
    byte_logits = torch.full((257,), -1e4)  # exp(-1e4) is 0 in float32: the bytes the text lacks
    byte_logits[0] = math.log(q["\n"])
    for c, p in q.items():
        if c != "\n":
            byte_logits[byte.vocab.encode(c)[0]] = math.log(p)
    for split in ("train", "dev", "test"):
        text = "".join(line + "\n" for line in chars.split_words[split])
        by_hand = -sum(math.log2(q[c]) for c in text) / len(text)
        c_loss = split_loss(unigram_model(len(chars.vocab), char_logits), chars.X[split], chars.Y[split])
        b_loss = split_loss(unigram_model(257, byte_logits), byte.X[split], byte.Y[split])
        c_bpc = split_measures(chars, {split: c_loss})[split]["bpc"]
        b_bpc = split_measures(byte, {split: b_loss})[split]["bpc"]
        assert c_bpc == pytest.approx(by_hand, rel=1e-5) and b_bpc == pytest.approx(by_hand, rel=1e-5)


def test_kneser_ney_on_bpe_tokens_reports_bits_per_character(text):
    from core.probes import knbaseline

    data = Dataset.load(text, 2, options=BPE)
    assert knbaseline.applies(data)
    b = knbaseline.build_baseline(data, 3)
    for s in ("train", "dev", "test"):
        m = b.measures[s]
        assert "unk_rate" not in m  # bytes: nothing is <unk>
        assert m["bpc"] == pytest.approx(b.losses[s] / math.log(2) / chars_per_token(data)[s])
    assert 0 < b.measures["dev"]["bpc"] < 8


def test_scoring_neighbours_and_the_map_run_on_a_bpe_model(trainer):
    """Smoke: the probes read BPE tokens, shown with the space mark."""
    from core.link.viewdata import neighbours
    from core.probes.inspection import embedding_map
    from core.probes.linescore import score_line
    from core.probes.sample import sample

    vocab = trainer.data.vocab
    s = score_line(trainer.model, vocab, "Dora saw a green sheep .")
    assert "".join(p.token for p in s.positions[:-1]).replace("▁", " ") == "Dora saw a green sheep ."
    assert s.positions[-1].token == "</s>" and math.isfinite(s.bpc) and s.chars == len("Dora saw a green sheep .") + 1
    word = next(t[1:] for t in vocab.itos[257:] if t.startswith("▁") and len(t) > 2)  # a merge: a word's one token
    found = neighbours(trainer, (word,), 5)
    assert found.error is None and len(found.found) == 5 and f"▁{word}" not in [t for t, _ in found.found]
    multi = neighbours(trainer, ("xylophone",), 5)
    assert multi.error and "tokens of this model" in multi.error
    m = embedding_map(trainer.model, vocab, trainer.data.Y["train"])
    assert m.labels and any(t.startswith("▁") for t in m.labels)
    lines = sample(trainer.model, vocab, 4, torch.Generator().manual_seed(0), max_len=30, running=True)
    assert len(lines) == 4 and all(isinstance(x.text, str) and "\n" not in x.text for x in lines)

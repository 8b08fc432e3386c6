"""The tokenizer at work (core.probes.tokenview): a line split as the data is, <unk> and unseen characters marked,
the summary's counts on the training split by hand, the layout of a split, and the characters per token that
run.json stores (core.measures.chars_per_token)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from core.data import Dataset
from core.measures import chars_per_token, loss_to_bpc
from core.probes import tokenview as tv
from core.tokens import UNK, TextOptions

# 10 lines: 8 train, 1 dev, 1 test (the split by position); "hen" is seen once in train: <unk> at min count 2
LINES = ["the cat sat .", "the dog sat .", "a cat ran .", "the dog ran .", "a hen sat .", "the cat sat .",
         "a dog ran .", "the cat ran .", "a dog sat .", "the cat sat ."]


def load(tmp_path, tokens: str, min_count: int = 2, lower: bool = False) -> Dataset:
    path = tmp_path / "t.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return Dataset.load(path, 2, options=TextOptions("text", tokens, min_count, lower))


def test_a_typed_line_is_normalised_and_split_into_words_with_unk(tmp_path):
    d = load(tmp_path, "words")
    split = tv.token_split(d, "  The  cat,\tsat  ")
    assert [t for t, _ in split] == ["The", "cat", ",", "sat"]  # spaces folded, punctuation set apart
    stoi = d.vocab.stoi
    assert split[1] == ("cat", stoi["cat"]) and split[3] == ("sat", stoi["sat"])
    assert split[0][1] == split[2][1] == stoi[UNK]  # "The" and "," are not in the vocabulary
    assert tv.is_unknown(d, *split[0]) and not tv.is_unknown(d, *split[1])
    assert [t for t, _ in tv.token_split(d, "a hen")] == ["a", "hen"] and tv.is_unknown(d, "hen", stoi[UNK])
    assert tv.token_split(d, "   ") == []


def test_a_character_split_has_one_id_per_character_and_marks_unseen_ones(tmp_path):
    d = load(tmp_path, "chars")
    split = tv.token_split(d, "cat!")
    assert [t for t, _ in split] == list("cat !")  # running text: the mark set apart, as the data was
    assert [i for _, i in split[:4]] == [d.vocab.stoi[c] for c in "cat "]
    assert split[4] == ("!", tv.NOT_IN_VOCAB) and tv.is_unknown(d, *split[4])
    lowered = load(tmp_path, "chars", lower=True)
    assert "".join(t for t, _ in tv.token_split(lowered, "The CAT")) == "the cat"


def test_the_summary_counts_the_training_split_by_hand(tmp_path):
    words, chars = load(tmp_path, "words"), load(tmp_path, "chars")
    train = LINES[:8]
    n_words = sum(len(line.split()) for line in train)  # 32: every line has 4 words and marks
    n_chars = sum(len(line) + 1 for line in train)  # a line end each
    s = tv.tokenizer_summary(words)
    assert s["kind"] == "words" and s["size"] == len(words.vocab) and s["merges"] == []
    assert s["tokens_per_word"] == 1.0  # every word is a token (line ends are counted on neither side)
    assert s["tokens_per_char"] == pytest.approx((n_words + 8) / n_chars)
    assert s["unk"] == 1 and s["line"] == "the cat sat ."  # "hen"; the first line of at least 20 characters: none
    assert s["longest"][0] in ("cat", "dog", "sat", "ran", "the") and UNK not in s["longest"]
    c = tv.tokenizer_summary(chars)
    assert c["tokens_per_word"] == pytest.approx((n_chars - 8) / n_words)
    assert c["tokens_per_char"] == 1.0 and c["merges"] == []
    assert "\n" not in c["longest"]  # the line end is no spelling


def test_chars_per_token_is_each_splits_characters_over_its_tokens(tmp_path):
    words, chars = load(tmp_path, "words"), load(tmp_path, "chars")
    ratio = chars_per_token(words)
    train_chars = sum(len(line) + 1 for line in LINES[:8])
    assert ratio["train"] == pytest.approx(train_chars / (32 + 8))
    assert ratio["dev"] == pytest.approx((len(LINES[8]) + 1) / 5)
    assert chars_per_token(chars) == {"train": 1.0, "dev": 1.0, "test": 1.0}
    (tmp_path / "n.txt").write_text("emma\nava\nmia\nnoah\nliam\n", encoding="utf-8")
    names = Dataset.load(tmp_path / "n.txt", 2)  # a word list: no ratio (its bpc is not measured)
    assert chars_per_token(names) == {}
    # the one conversion: a loss per token over ln 2 and the characters per token
    assert loss_to_bpc(2.0, 4.0) == pytest.approx(2.0 / math.log(2) / 4.0)
    assert math.isnan(loss_to_bpc(1.0, 0.0))


def test_a_bpe_dataset_is_split_by_its_own_tokenizer(tmp_path):
    """The BPE branch reads the dataset's trained tokenizer (core.bpe.BPE on the vocabulary): its display pieces
    with their ids, which decode back to the line; the summary's size, longest tokens and first merges are its."""
    pytest.importorskip("tokenizers")
    path = tmp_path / "t.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    d = Dataset.load(path, 2, options=TextOptions("text", "bpe", 4, False, 270))
    bpe = d.vocab.bpe
    split = tv.token_split(d, "the  cat sat")
    assert [t for t, _ in split] == bpe.pieces("the cat sat") and len(split) < len("the cat sat")  # merged
    assert bpe.decode([i for _, i in split]) == "the cat sat"
    s = tv.tokenizer_summary(d, merges=2)
    assert s["size"] == bpe.size == len(d.vocab) and s["merges"] == bpe.merges(2) and len(s["merges"]) == 2
    assert s["longest"] == bpe.longest(len(s["longest"]))
    d.vocab = dataclasses.replace(d.vocab, bpe=None)
    with pytest.raises(ValueError, match="no trained tokenizer"):
        tv.token_split(d, "ab")


def test_a_split_is_laid_out_in_aligned_rows_within_the_width():
    pairs = [("In", 280), ("the", 3), (" ", 1), ("zorblax", 1), ("x", tv.NOT_IN_VOCAB)]
    rows = tv.split_rows(pairs, 16, unknown=lambda t, i: t == "zorblax")
    assert rows == [("In  the ␣", "280 3   1"), ("zorblax* x", "1        ?")]
    assert all(len(top) <= 16 for top, _ in rows)
    assert tv.shown_token("a\tb\n") == "a⇥b↵" and tv.shown_token("") == "''"

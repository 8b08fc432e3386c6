"""The BPE tokenizer (core/bpe.py): byte-level, exact round trip of normalised text, saved and read back to the same
ids, its checks of a saved spec, and the one line when the library is missing."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from core.bpe import BPE, MARK, MIN_VOCAB, NEEDS_LIBRARY, TokenizerError, byte_alphabet, library
from core.errors import DataError
from core.tokens import Vocab, encode_prompt, find_token, normalise

# Accents (composed and decomposed), emoji (with a joiner and a flag), CJK, and punctuation of several scripts.
HARD = [
    "Café naïve résumé — déjà vu!",
    "Cafe\u0301 decomposed: e + U+0301 becomes é",
    "emoji 🎉 👩\u200d👩\u200d👧 family, flag 🇫🇷 ok",
    "中文字符测试，日本語のテキスト。한국어 문장!",
    "¿Qué? «guillemets» ‘single’ “double” … (a) [b] {c} #1 $2 %3 @ ^ ~ `tick` \\ / |",
    "Ελληνικά και русский текст; עברית ו-العربية",
    "a literal mark ▁ and Ġ stay themselves",
]
LINES = ["In the beginning God created the heaven and the earth .", "And the earth was without form , and void .",
         "And God said , Let there be light : and there was light .", "And God saw the light , that it was good ."] * 20


def byte_id(b: int) -> int:
    """A byte's id: the library orders the bytes by their stand-in characters, and ours are its ids + 1."""
    return 1 + sorted(byte_alphabet()).index(byte_alphabet()[b])


@pytest.fixture(scope="module")
def tokenizers():
    """The library, or the test is skipped (it is the `bpe` extra; the test of its absence runs without it)."""
    return pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def bpe(tokenizers) -> BPE:
    return BPE.train(LINES + [normalise(s) for s in HARD], 320)


def test_the_byte_alphabet_is_the_librarys(tokenizers):
    """Each byte's stand-in character, as the library's byte-level pre-tokenizer writes it: all 256 of them, and
    every byte of ASCII and of UTF-8's lead and continuation bytes checked one by one."""
    alphabet = byte_alphabet()
    assert len(set(alphabet)) == 256 and set(alphabet) == set(tokenizers.pre_tokenizers.ByteLevel.alphabet())
    pre = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    for text in [chr(c) for c in range(1, 128)] + ["é", "ÿ", "߿", "€", "\uffff", "🎉", "\U0010fffd"]:
        got = "".join(p for p, _ in pre.pre_tokenize_str(text))
        assert got == "".join(alphabet[b] for b in text.encode("utf-8")), text


@pytest.mark.parametrize("text", HARD)
def test_nfc_text_round_trips_exactly(bpe, text):
    """Any text without control characters comes back exactly, NFC: bytes the merges never saw stay bytes."""
    ids = bpe.encode(text)
    assert 0 not in ids  # the line end is ours, never a byte's
    assert bpe.decode(ids) == unicodedata.normalize("NFC", text)
    assert len(bpe.pieces(text)) == len(ids)


def test_pieces_mark_a_space_and_show_stray_bytes(bpe):
    pieces = bpe.pieces("And God said , Let there be light")
    assert "".join(pieces).replace(MARK, " ") == "And God said , Let there be light"
    assert pieces[1] == f"{MARK}God" and pieces[0] == "And"  # frequent: merged whole, the space its first byte
    assert bpe.itos[0] == "</s>" and bpe.size == 320
    byte_a9 = bpe.itos.index("<0xA9>")  # é's second byte alone is not a character
    assert bpe.token_bytes[byte_a9] == b"\xa9"
    assert bpe.itos[byte_id(0x1B)] == "<0x1B>" and bpe.itos[byte_id(ord("A"))] == "A"  # controls shown as bytes


def test_decode_keeps_samples_printable(bpe):
    """A model can sample any bytes: stray bytes and control characters become U+FFFD, a line end a newline."""
    esc = bpe.itos.index("<0x1B>")
    lead = bpe.itos.index("<0xE2>")
    a = bpe.encode("a")[0]
    assert bpe.decode([a, esc, a, 0, lead, a]) == "a\ufffda\n\ufffda"


def test_encode_lines_is_encode_line_by_line(bpe):
    """The whole text's fast path (each distinct word encoded once) gives what encoding each line gives."""
    lines = LINES[:4] + [normalise(s) for s in HARD] + ["", "  two  spaces, not normalised ", "x"]
    assert bpe.encode_lines(lines) == [bpe.encode(line) for line in lines]


def test_a_saved_tokenizer_reads_back_to_the_same_ids(bpe):
    again = BPE(bpe.spec)
    assert again.itos == bpe.itos and again.merges(10) == bpe.merges(10)
    for text in LINES[:4] + HARD:
        assert again.encode(text) == bpe.encode(text)


def test_merges_and_longest_for_the_view(bpe):
    first = bpe.merges(3)
    assert len(first) == 3 and all(isinstance(a, str) and isinstance(b, str) for a, b in first)
    assert len(bpe.merges(10**6)) == bpe.size - MIN_VOCAB
    longest = bpe.longest(5)
    assert len(longest) == 5 and len(longest[0].replace(MARK, " ")) >= len(longest[-1].replace(MARK, " "))


def test_the_vocabulary_is_the_knob(tokenizers):
    """257 tokens: the line end and the bytes, no merges; a text too small for more merges gives fewer tokens."""
    plain = BPE.train(LINES, MIN_VOCAB)
    assert plain.size == MIN_VOCAB and plain.merges(5) == []
    assert plain.encode("the") == [byte_id(b) for b in b"the"]  # one token per byte
    small = BPE.train(["ab ab"], 5000)
    assert MIN_VOCAB < small.size < 270


@pytest.mark.parametrize("change, fragment", [
    (lambda d: "not json", "not JSON"),
    (lambda d: {**d, "normalizer": {"type": "Lowercase"}}, "changes text"),
    (lambda d: {**d, "pre_tokenizer": {**d["pre_tokenizer"], "add_prefix_space": True}}, "prefix space"),
    (lambda d: {**d, "padding": {"strategy": "BatchLongest", "pad_id": 0}}, "padding"),
    (lambda d: {**d, "model": {**d["model"], "vocab": {k: v + 1 for k, v in d["model"]["vocab"].items()}}}, "ids"),
    (lambda d: {**d, "model": {**d["model"], "merges": [["th", "zz"]]}}, "merge"),
    (lambda d: {**d, "model": {**d["model"], "vocab": {**d["model"]["vocab"], "\u00e9\n": 999}}}, "ids"),
])
def test_a_damaged_spec_is_refused_saying_why(bpe, change, fragment):
    d = change(json.loads(bpe.spec))
    with pytest.raises(TokenizerError, match=fragment):
        BPE(d if isinstance(d, str) else json.dumps(d))


def test_without_the_library_bpe_is_one_line_naming_pip(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import raises ImportError
    with pytest.raises(DataError) as e:
        library()
    assert str(e.value) == NEEDS_LIBRARY and "\n" not in NEEDS_LIBRARY and "pip install" in NEEDS_LIBRARY


def test_a_bpe_vocabulary_reads_prompts_and_finds_tokens(bpe):
    vocab = Vocab(bpe.itos, "bpe", bpe)
    prompt = encode_prompt("And  God\tsaid", vocab)
    assert vocab.decode(prompt.ids) == "And God said" and prompt.note() is None
    assert vocab.split("And God") == ["And", f"{MARK}God"]
    assert find_token(vocab, "God") == bpe.encode(" God")[0]  # a word: its token after a space
    assert find_token(vocab, f"{MARK}God") == bpe.encode(" God")[0]  # a token as shown
    assert find_token(vocab, f"{MARK}nothing") is None
    with pytest.raises(ValueError) as e:
        find_token(vocab, "xylophone")
    assert "\n" not in str(e.value) and "tokens of this model" in str(e.value)

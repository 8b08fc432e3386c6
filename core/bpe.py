"""Byte-pair encoding (`--tokens bpe`): a byte-level BPE tokenizer, trained on the training split of running text.

The tokenizer is Hugging Face's `tokenizers` library (an extra: `pip install 'mlp-tui[bpe]'`), imported only where
a tokenizer is trained or read, so only the training process (and the commands that read a BPE checkpoint) load it.
It is byte-level, as GPT-2's: a line's UTF-8 bytes are the 256 base tokens and the merges learned on the training
split join them, so any text round-trips exactly and nothing becomes `<unk>`. Before the bytes, the library's
pre-tokenizer cuts a line into runs of letters, digits or other characters, each with the space before it, so a
merge never crosses a word's start. Lines are kept as for words: id 0 is the line end (`</s>`, also the padding
before the text) and is not the library's: our ids are the library's plus one. `--bpe-vocab N` counts it, so N from
BYTES + 1 (bytes only, no merges) to MAX_VOCAB; a text too small for N - 257 merges gives fewer.

A token is shown (the embedding map, neighbours, scoring, the tokenizer's view) as its text with MARK for each
space, so "▁the" is " the", a word after a space; bytes that are not whole characters, or characters that may not be
printed, are shown as <0xNN>. Samples are decoded to plain text. Torch-free.
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
from collections.abc import Iterable
from typing import Any

from core.errors import DataError
from core.runs.files import is_refused
from core.tokens import BPE_MAX, BPE_MIN, SPACE_MARK

MARK = SPACE_MARK  # "▁": where a token starts with a space (defined once, in core.tokens)
LINE_END = "</s>"  # id 0: a line's end, as for words
BYTES = 256
MIN_VOCAB = BPE_MIN  # the bytes and the line end: no merges (the setting's range, core.tokens)
MAX_VOCAB = BPE_MAX
LIBRARY = "tokenizers"
INSTALL = "pip install 'mlp-tui[bpe]'"
NEEDS_LIBRARY = f"--tokens bpe needs Hugging Face's tokenizers library, which is not installed: {INSTALL}"
MAX_SPEC_CHARS = 64 << 20  # a saved tokenizer of 50,000 tokens is a few MB of JSON
_CHUNK = re.compile(r" ?[^ ]+")  # a normalised line's words, each with the space before it (see encode_lines)


class TokenizerError(ValueError):
    """A saved tokenizer that cannot be read back or is not one of ours; the message says why in a few words."""


def library() -> Any:
    """The `tokenizers` module, or DataError naming the pip command (one line) where it is not installed.

    Its thread pool is off unless the user's environment says otherwise: a sweep's worker has one core, and a
    process that forks after the pool ran gets the library's warning on stderr. On kjv, learning 4,000 tokens took
    2.5-3.7 s on one thread against 1.9-2.1 s on two (a loaded 2-core machine)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import tokenizers
    except ImportError:
        raise DataError(NEEDS_LIBRARY) from None
    return tokenizers


def byte_alphabet() -> list[str]:
    """The character that stands for each byte in the library's vocabulary (GPT-2's byte-level scheme): a printable
    byte of Latin-1 stands for itself, every other byte (controls, the space, ...) for chr(256 + n), n counting those
    bytes in order. tests/unit/test_bpe.py holds it to the library's own mapping."""
    printable = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    out, n = [], 0
    for b in range(BYTES):
        if b in printable:
            out.append(chr(b))
        else:
            out.append(chr(BYTES + n))
            n += 1
    return out


_BYTE_OF = {c: b for b, c in enumerate(byte_alphabet())}


def shown(raw: bytes) -> str:
    """A token's bytes as the views show it: its text with MARK for each space; bytes that are not whole UTF-8
    characters, and characters that may not be printed (controls, format characters), as <0xNN>."""
    text = raw.decode("utf-8", errors="surrogateescape")
    out = []
    for c in text:
        if "\udc80" <= c <= "\udcff":  # a byte that is not part of a whole character
            out.append(f"<0x{ord(c) - 0xDC00:02X}>")
        elif is_refused(c):
            out.append("".join(f"<0x{b:02X}>" for b in c.encode("utf-8")))
        else:
            out.append(MARK if c == " " else c)
    return "".join(out)


class BPE:
    """A trained byte-level BPE tokenizer: our ids (0 the line end, the library's + 1), encoding, decoding, and what
    the tokenizer's view shows (its merges and longest tokens). Made by `train` or read back from its `spec` (the
    library's JSON, which the run folder and the checkpoint keep); TokenizerError if the spec is not one of ours."""

    def __init__(self, spec: str, seconds: float = 0.0) -> None:
        self.spec = spec
        self.seconds = seconds  # to train it (0: read back)
        model = check_spec(spec)
        lib = library()
        try:
            self._tok = lib.Tokenizer.from_str(spec)
        except Exception as e:  # the library raises its own exception type for a spec it cannot read
            raise TokenizerError(f"the library cannot read it ({str(e)[:80]})") from None
        vocab: dict[str, int] = model["vocab"]
        by_id = sorted(vocab, key=vocab.__getitem__)
        self.token_bytes: tuple[bytes, ...] = (b"\n", *(bytes(_BYTE_OF[c] for c in t) for t in by_id))
        self.itos: tuple[str, ...] = (LINE_END, *(shown(b) for b in self.token_bytes[1:]))
        self._merges: list[tuple[str, str]] = [_merge_pair(m) for m in model["merges"]]

    @classmethod
    def train(cls, lines: Iterable[str], vocab_size: int) -> BPE:
        """A tokenizer of at most `vocab_size` tokens (the line end included) learned from `lines`."""
        if not MIN_VOCAB <= vocab_size <= MAX_VOCAB:
            raise ValueError(f"a BPE vocabulary is from {MIN_VOCAB:,} to {MAX_VOCAB:,} tokens, got {vocab_size!r}")
        lib = library()
        t0 = time.perf_counter()
        tok = lib.Tokenizer(lib.models.BPE())
        tok.pre_tokenizer = lib.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = lib.decoders.ByteLevel()
        trainer = lib.trainers.BpeTrainer(vocab_size=vocab_size - 1, special_tokens=[], show_progress=False,
                                          initial_alphabet=lib.pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(lines, trainer)
        return cls(tok.to_str(), time.perf_counter() - t0)

    @property
    def size(self) -> int:
        """Tokens, the line end included (what the model's vocab_size is)."""
        return len(self.itos)

    def encode(self, line: str) -> list[int]:
        """A line's token ids (NFC first, as every file is read), without its line end."""
        return [i + 1 for i in self._tok.encode(unicodedata.normalize("NFC", line)).ids]

    def encode_lines(self, lines: list[str]) -> list[list[int]]:
        """Each normalised line's ids, as `encode` gives them, ~3x faster on a whole text: a normalised line
        (core.tokens: tokens joined by single spaces) is cut into its words with the space before each, which the
        library's pre-tokenizer never joins across, so a line's ids are its words' ids in a row, and each distinct
        word is encoded once. A line not made of such words (not normalised) is encoded whole."""
        chunks = [_CHUNK.findall(line) for line in lines]
        distinct = list(dict.fromkeys(c for cs in chunks for c in cs))
        table = {c: [i + 1 for i in e.ids] for c, e in zip(distinct, self._tok.encode_batch(distinct))}
        out = []
        for line, cs in zip(lines, chunks):
            if "".join(cs) == line:
                out.append([i for c in cs for i in table[c]])
            else:
                out.append(self.encode(line))
        return out

    def pieces(self, line: str) -> list[str]:
        """A line's tokens as they are shown (MARK for a space)."""
        return [self.itos[i] for i in self.encode(line)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of token ids, a line end (id 0) as a newline: exactly the text encoded, for any text without
        characters that may not be printed (running text has none: the loader refuses them). A sample can make
        anything of bytes: bytes that are not whole characters, and such characters (an escape, a newline byte),
        become U+FFFD, so no sample reaches a terminal raw."""
        lines: list[list[bytes]] = [[]]
        for i in ids:
            if i:
                lines[-1].append(self.token_bytes[i])
            else:
                lines.append([])
        return "\n".join(_printable(b"".join(line).decode("utf-8", errors="replace")) for line in lines)

    def merges(self, n: int) -> list[tuple[str, str]]:
        """The first n merges, in the order they were learned, each pair as tokens are shown."""
        return self._merges[: max(0, n)]

    def longest(self, n: int) -> list[str]:
        """The n longest tokens (in bytes; ties by id), as they are shown."""
        order = sorted(range(1, self.size), key=lambda i: (-len(self.token_bytes[i]), i))
        return [self.itos[i] for i in order[: max(0, n)]]


def _printable(text: str) -> str:
    return text if text.isprintable() else "".join("\ufffd" if is_refused(c) else c for c in text)


def _merge_pair(m: Any) -> tuple[str, str]:
    """A merge as the library stores it (["a", "b"], or "a b" in older files) as two tokens shown."""
    a, b = m.split(" ", 1) if isinstance(m, str) else m
    return shown(bytes(_BYTE_OF[c] for c in a)), shown(bytes(_BYTE_OF[c] for c in b))


def check_spec(spec: Any) -> dict[str, Any]:
    """The spec's "model" if it is a byte-level BPE of ours, or TokenizerError saying what is wrong: its ids are
    0..n-1 with every byte among them, each token made of the byte alphabet's characters, its merges pairs of
    tokens, and nothing that would change text before the bytes or the ids after (no normaliser, added tokens,
    prefix space, post-processor, truncation or padding)."""
    if not isinstance(spec, str) or len(spec) > MAX_SPEC_CHARS:
        raise TokenizerError("it is not text of a sane size")
    try:
        d = json.loads(spec)
    except ValueError:
        raise TokenizerError("it is not JSON") from None
    model = d.get("model") if isinstance(d, dict) else None
    pre = d.get("pre_tokenizer") if isinstance(d, dict) else None
    if not isinstance(model, dict) or model.get("type") != "BPE" or not isinstance(pre, dict) \
            or pre.get("type") != "ByteLevel" or pre.get("add_prefix_space") is not False:
        raise TokenizerError("it is not a byte-level BPE without a prefix space")
    if d.get("normalizer") is not None or d.get("added_tokens") or model.get("dropout"):
        raise TokenizerError("it changes text before the bytes (a normaliser, added tokens or dropout)")
    if any(d.get(k) is not None for k in ("post_processor", "truncation", "padding")):
        raise TokenizerError("it changes the ids it makes (a post-processor, truncation or padding)")
    vocab, merges = model.get("vocab"), model.get("merges")
    if not isinstance(vocab, dict) or not isinstance(merges, list) or not BYTES <= len(vocab) < MAX_VOCAB:
        raise TokenizerError(f"its vocabulary is not {BYTES:,} to {MAX_VOCAB - 1:,} tokens with merges")
    if sorted(vocab.values()) != list(range(len(vocab))) or not set(_BYTE_OF) <= set(vocab):
        raise TokenizerError("its ids are not 0..n-1 with every byte among them")
    if not all(isinstance(t, str) and t and set(t) <= _BYTE_OF.keys() for t in vocab):
        raise TokenizerError("a token is not made of bytes")
    for m in merges:
        pair = m.split(" ", 1) if isinstance(m, str) else m
        if not (isinstance(pair, list) and len(pair) == 2 and all(p in vocab for p in pair)):
            raise TokenizerError("a merge is not a pair of its tokens")
    return model

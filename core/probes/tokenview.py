"""The tokenizer at work: a line split into its tokens with their ids, and what the tokenizer makes of the data.

What the tokenizer view (tui/views/tokenizer.py) and `mlp-tui tokens` show, for every kind of token: characters
(one token per character), words (the word rule, core.tokens.WORD_RE; a word the vocabulary lacks is `<unk>`)
and byte-pair encoding (a trained tokenizer, whose merges and longest tokens are shown too). A line is
normalised as the data was (core.tokens.normalise for running text), so the split shown is the one the model
reads. Torch-free: the data's tensors are only counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.measures import chars_per_token
from core.tokens import UNK, normalise

LONGEST = 12  # longest tokens listed
MERGES = 12  # first merges listed
MAX_TEXT_CHARS = 500  # text to split: a long paste is cut here
NOT_IN_VOCAB = -1  # the id of a character a character model has never seen
MARKS = {" ": "␣", "\n": "↵", "\t": "⇥"}  # characters a token shows visibly (a space inside a token, a line end)


def normalised(data: Any, text: str) -> str:
    """`text` as the model of `data` (a core.data.Dataset) reads a line: running text normalised (NFC'd by the
    caller's input, spaces folded, words and punctuation set apart, lowered with --lower); a word list's item
    stripped (and lowered with --lower, or cut by the word rule for words)."""
    o = data.options
    text = " ".join(text[:MAX_TEXT_CHARS].split())  # a pasted line break is a space
    if o.text or o.tokens == "words":
        return normalise(text, o.lower)
    return text.lower() if o.lower else text


def token_split(data: Any, text: str) -> list[tuple[str, int]]:
    """A line (of the data, or typed) normalised as the data is, split into (token, id) pairs: the token as shown
    (a BPE token with a visible mark where it starts with a space), and its id in the vocabulary. A word the
    vocabulary lacks keeps its spelling and gets `<unk>`'s id (is_unknown says so); a character a character
    model has never seen gets NOT_IN_VOCAB."""
    line = normalised(data, text)
    if not line:
        return []
    if data.options.tokens == "bpe":  # the BPE tokenizer object (core.bpe.BPE)
        tok = bpe_tokenizer(data)
        return list(zip(tok.pieces(line), tok.encode(line)))
    stoi = data.vocab.stoi
    if data.options.tokens == "words":
        unk = stoi.get(UNK, NOT_IN_VOCAB)
        return [(w, stoi.get(w, unk)) for w in line.split(" ")]
    return [(c, stoi.get(c, NOT_IN_VOCAB)) for c in line]


def is_unknown(data: Any, token: str, ix: int) -> bool:
    """Whether a (token, id) pair of token_split is a word read as `<unk>`, or a character outside the vocabulary."""
    if ix == NOT_IN_VOCAB:
        return True
    itos = data.vocab.itos
    return 0 <= ix < len(itos) and itos[ix] == UNK and token != UNK


def bpe_tokenizer(data: Any) -> Any:
    """The trained BPE tokenizer of a `--tokens bpe` dataset: encode, pieces, decode, merges(n), longest(n), size.
    A dataset and a checkpoint both keep it on their vocabulary (core.tokens.Vocab.bpe)."""
    tok = getattr(data.vocab, "bpe", None)
    if tok is None:
        raise ValueError("this --tokens bpe dataset has no trained tokenizer")
    return tok


def data_line(data: Any, index: int = 0, min_chars: int = 20) -> str:
    """A line of the training split to show split into tokens: the index-th with at least min_chars characters
    (wrapping around), else the first non-empty one."""
    lines = data.split_words.get("train") or []
    long = [line for line in lines if len(line) >= min_chars] or [line for line in lines if line]
    return long[index % len(long)][:MAX_TEXT_CHARS] if long else ""


def word_count(lines: list[str]) -> int:
    """Words of normalised lines: the word rule's words and punctuation marks (running text), or a word list's items
    (a name is one word)."""
    return sum(len(line.split()) for line in lines)


def tokenizer_summary(data: Any, longest: int = LONGEST, merges: int = MERGES) -> dict[str, Any]:
    """What the tokenizer makes of the data, as plain data: its kind and vocabulary size, its longest tokens, its
    first merges in order (BPE only; none for characters and words), and on the training split the tokens per word
    and per character. Tokens per word counts neither side's line ends (a word model gives exactly 1); tokens per
    character counts them on both sides (1 / characters per token, the ratio bits per character uses)."""
    o = data.options
    kind = o.tokens
    first: list[tuple[str, str]] = []
    if kind == "bpe":
        tok = bpe_tokenizer(data)
        size, long, first = int(tok.size), [str(t) for t in tok.longest(longest)], list(tok.merges(merges))
    else:
        size = len(data.vocab)
        special = {data.vocab.itos[0], UNK}  # the line end (or a word list's boundary) and <unk> are no spellings
        tokens = [t for t in data.vocab.itos if t not in special]
        long = sorted(tokens, key=lambda t: -len(t))[:longest]  # stable: frequent first among equals (words)
    lines = (getattr(data, "split_words", None) or {}).get("train") or []  # a checkpoint's vocabulary: no data
    ys = getattr(data, "Y", None) or {}
    targets = len(ys["train"]) if "train" in ys else 0
    words = word_count(lines)
    ratio = chars_per_token(data).get("train") if ys else None
    chars = (getattr(data, "chars", None) or {}).get("train", 0)
    return {
        "kind": kind, "format": o.format, "lower": o.lower, "size": size, "longest": long,
        "merges": [(str(a), str(b)) for a, b in first],
        "tokens_per_word": (targets - len(lines)) / words if words else None,
        "tokens_per_char": 1 / ratio if ratio else (targets / chars if chars else None),
        "chars_per_token": ratio, "train_tokens": targets, "train_words": words,
        "unk": (getattr(data, "unk", None) or {}).get("train", 0),
        "min_count": o.min_count if kind == "words" else None, "line": data_line(data) if lines else "",
    }


def shown_token(token: str) -> str:
    """A token as a split shows it: spaces, tabs and line ends as visible marks (a BPE piece already marks the
    space it starts with), any other invisible character by its escape."""
    out = "".join(MARKS.get(c, c if c.isprintable() else repr(c)[1:-1]) for c in token)
    return out or "''"


def split_rows(tokens: list[tuple[str, int]], width: int, cells: Callable[[str], int] = len,
               unknown: Callable[[str, int], bool] = lambda t, i: False) -> list[tuple[str, str]]:
    """A split laid out as pairs of rows at most `width` cells wide: the tokens (shown_token; `*` after one that is
    unknown), and under each its id, each column as wide as the wider of the two. `cells` measures text (a
    terminal's cells: a CJK character takes two)."""
    rows: list[tuple[str, str]] = []
    top, bottom, used = "", "", 0
    for token, ix in tokens:
        shown = shown_token(token) + ("*" if unknown(token, ix) else "")
        ident = str(ix) if ix != NOT_IN_VOCAB else "?"
        w = max(cells(shown), len(ident))
        if used and used + 1 + w > width:
            rows.append((top.rstrip(), bottom.rstrip()))
            top, bottom, used = "", "", 0
        gap = " " if used else ""
        top += gap + shown + " " * (w - cells(shown))
        bottom += gap + ident + " " * (w - len(ident))
        used += len(gap) + w
    if used:
        rows.append((top.rstrip(), bottom.rstrip()))
    return rows

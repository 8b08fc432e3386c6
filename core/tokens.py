"""What a dataset's file is and what its tokens are: the format (a word list or running text), the kind of token
(characters, words, or byte-pair encoding; one table, TOKENIZERS, maps a kind to its tokenizer), the one word rule,
and how a vocabulary of words is chosen. A `bpe` vocabulary carries its trained tokenizer (core.bpe.BPE), learned on
the training split of running text (core.data), which splits, encodes and decodes for it.

Running text (`--format text`) is normalised once, line by line: NFC (as every file read), folded to lower case
with `--lower`, then cut by WORD_RE into words and punctuation and joined back with single spaces. That turns runs
of spaces and tabs into one space, drops spaces at either end and sets punctuation apart ("Hi, you." becomes
"Hi , you ."), so the normalised line is exactly its word tokens joined by single spaces: the tokenization is
reversible (`<unk>` aside), and a character model, a word model and a BPE model of one file read the same characters,
which bits per character counts. Lines are kept; a line end is a token (`</s>` for words and BPE, the newline for
characters).

Torch-free apart from the functions that build tensors (torch imported inside them).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import DataError

if TYPE_CHECKING:
    import torch

FORMATS = ("lines", "text")
TOKEN_KINDS = ("chars", "words", "bpe")
LINE_END = "</s>"  # a word model's line end (and the padding before the first line)
UNK = "<unk>"  # every word seen fewer than min_count times in the training split
TEXT_END = "\n"  # a character model's line end on running text (on a word list: core.data.BOUNDARY)
# The word rule: a run of letters, digits or underscores (with apostrophes inside, as in don't or LORD's), or any
# one other character that is not a space. Every non-space character falls in exactly one token.
WORD_RE = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")
DEDUPE_TEXT = "--dedupe splits a word list by distinct word; running text (--format text) is split by position"
MAX_TOKEN_CHARS = 200  # a longer "word" in a checkpoint's vocabulary is damage, not text (and refused in a file)
BPE_TEXT = "--tokens bpe learns its tokens from running text: give --format text too"
SPACE_MARK = "\u2581"  # "▁": a BPE token that starts with a space is shown with it (SentencePiece's sign; core.bpe)
BPE_MIN, BPE_MAX = 257, 50_000  # a bpe vocabulary: the line end and the 256 bytes (no merges), up to 50,000 tokens
DATA_SETTINGS = ("format", "tokens", "min_count", "lower", "bpe_vocab")  # TextOptions's fields, the registry's names
# Running text with no spaces reads as words only if its tokens are word-sized (a file of one word a line): more
# characters a token than this on average, and each line is one giant token, which --tokens chars reads instead.
NO_SPACE_WORD_CHARS = 20


@dataclass(frozen=True)
class Tokenizer:
    """A kind of token: how a normalised line splits into tokens and joins back."""

    kind: str
    split: Callable[[str], list[str]]
    joiner: str  # between tokens when a line is written back


def _words(line: str) -> list[str]:
    return line.split(" ") if line else []  # a normalised line: its tokens are separated by single spaces


def _trained(line: str) -> list[str]:
    raise TypeError("a bpe split is its trained tokenizer's: Vocab.split")


TOKENIZERS: dict[str, Tokenizer] = {
    "chars": Tokenizer("chars", list, ""),
    "words": Tokenizer("words", _words, " "),
    "bpe": Tokenizer("bpe", _trained, ""),  # core.bpe.BPE, learned on the training split (Vocab.bpe)
}


@dataclass(frozen=True)
class TextOptions:
    """The data settings beyond the file: format, tokens, min_count, lower, bpe_vocab (their registry names)."""

    format: str = "lines"
    tokens: str = "chars"
    min_count: int = 4
    lower: bool = False
    bpe_vocab: int = 4000  # tokens of a bpe vocabulary, the line end and the 256 bytes included

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> TextOptions:
        """From settings values (a run.json or checkpoint without them is a word list of characters); bpe_vocab only
        for bpe, so that it does not tell apart two datasets of other tokens."""
        d = cls()
        tokens = str(values.get("tokens") or d.tokens)
        return cls(str(values.get("format") or d.format), tokens, int(values.get("min_count") or d.min_count),
                   bool(values.get("lower", d.lower)),
                   int(values.get("bpe_vocab") or d.bpe_vocab) if tokens == "bpe" else d.bpe_vocab)

    def to_dict(self) -> dict[str, Any]:
        """The settings run.json and the checkpoint keep: bpe_vocab only for bpe, so other runs' are as before."""
        out = {"format": self.format, "tokens": self.tokens, "min_count": self.min_count, "lower": self.lower}
        return {**out, "bpe_vocab": self.bpe_vocab} if self.tokens == "bpe" else out

    @property
    def plain(self) -> bool:
        """The lecture's data: a word list of characters, read exactly as before these settings existed."""
        return self.format == "lines" and self.tokens == "chars" and not self.lower

    @property
    def text(self) -> bool:
        return self.format == "text"

    def boundary(self, word_list_boundary: str) -> str:
        """Index 0 of the vocabulary: a line's end, and the padding before a line (lines) or the text (text)."""
        if self.tokens in ("words", "bpe"):
            return LINE_END
        return TEXT_END if self.text else word_list_boundary

    def label(self) -> str:
        """A few words for lists: "text · words ≥4 · lower", "text · bpe 4,000"."""
        words = {"words": f" ≥{self.min_count}", "bpe": f" {self.bpe_vocab:,}"}.get(self.tokens, "")
        return f"{self.format} · {self.tokens}{words}" + (" · lower" if self.lower else "")


@dataclass(frozen=True)
class Vocab:
    """Tokens and their indices; index 0 is the boundary token (a word list's `.`, a line end of running text).

    `tokens` is the kind (core.tokens.TOKENIZERS): characters by default, or words (then index 1 is `<unk>`), or bpe
    (then `bpe` is its core.bpe.BPE and itos its tokens as shown, core.bpe.MARK for a space)."""

    itos: tuple[str, ...]
    tokens: str = "chars"
    bpe: Any = field(default=None, compare=False, repr=False)  # core.bpe.BPE of a bpe vocabulary

    @classmethod
    def from_words(cls, words: list[str], boundary: str = ".") -> Vocab:
        return cls((boundary, *sorted(set("".join(words)))))

    @functools.cached_property
    def stoi(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, word: str) -> list[int]:
        """A text's token indices (KeyError for a character outside the vocabulary; words unknown are <unk>)."""
        if self.bpe is not None:
            return self.bpe.encode(word)
        stoi = self.stoi
        if self.tokens == "chars":
            return [stoi[c] for c in word]
        return [stoi.get(t, 1) for t in TOKENIZERS[self.tokens].split(word)]

    def decode(self, ix: list[int]) -> str:
        if self.bpe is not None:
            return self.bpe.decode(ix)
        return TOKENIZERS[self.tokens].joiner.join(self.itos[i] for i in ix)

    def split(self, line: str) -> list[str]:
        """A normalised line's tokens as shown (a BPE token with core.bpe.MARK for a space; a word as it is)."""
        return self.bpe.pieces(line) if self.bpe is not None else TOKENIZERS[self.tokens].split(line)


def normalise(line: str, lower: bool = False) -> str:
    """A line of running text as it is modelled (see the module's docstring); the text is already NFC."""
    return " ".join(WORD_RE.findall(line.lower() if lower else line))


@dataclass(frozen=True)
class Prompt:
    """Text a sample continues, as the model reads it: its token ids, and the words that became `<unk>`."""

    ids: list[int]
    unknown: list[str]

    def note(self) -> str | None:
        """One line on the words the vocabulary lacks, or None."""
        if not self.unknown:
            return None
        shown = ", ".join(repr(w) for w in self.unknown[:5]) + (", ..." if len(self.unknown) > 5 else "")
        n = len(self.unknown)
        return f"{n} word{'s' if n > 1 else ''} of the prompt not in the vocabulary, read as {UNK}: {shown}"


def encode_prompt(text: str, vocab: Vocab, lower: bool = False) -> Prompt:
    """A prompt of running text: normalised and split by the model's own rule (words it lacks become `<unk>`).
    ValueError, in one line, for a prompt that is empty once normalised or has characters a character model lacks."""
    line = normalise(" ".join(text.split()), lower)  # line breaks in a pasted prompt are spaces
    if not line:
        raise ValueError("the prompt is empty: give some text for the samples to continue")
    stoi = vocab.stoi
    if vocab.tokens == "chars":
        bad = sorted({c for c in line if c not in stoi or c == vocab.itos[0]})
        if bad:
            raise ValueError(f"the prompt has characters the model does not know: {''.join(bad)!r}")
        return Prompt([stoi[c] for c in line], [])
    if vocab.bpe is not None:  # bytes: nothing is unknown
        return Prompt(vocab.bpe.encode(line), [])
    tokens = TOKENIZERS[vocab.tokens].split(line)
    unknown = list(dict.fromkeys(t for t in tokens if t not in stoi))  # (the rule never makes </s> or <unk>)
    return Prompt([stoi.get(t, stoi[UNK]) for t in tokens], unknown)


def find_token(vocab: Vocab, query: str) -> int | None:
    """The id of the token a user names (the neighbours' question), or None if the vocabulary lacks it. A BPE model
    also takes a word: read after a space first (the word inside a line, `▁word`), then as it is, then the token as
    shown; ValueError, in one line, for a word that is several tokens, naming them."""
    itos = vocab.itos
    if vocab.bpe is None:
        return itos.index(query) if query in itos else None  # a scan: a dict of 16K words per question cost more
    bpe = vocab.bpe
    if query.startswith(SPACE_MARK):  # a token as shown
        return itos.index(query) if query in itos else None
    if query and len(ids := bpe.encode(" " + query)) == 1:
        return int(ids[0])
    if query in itos:  # a token as shown (<0xE2>, or a word's start)
        return itos.index(query)
    if len(ids := bpe.encode(query)) == 1:
        return int(ids[0])
    if not query:
        return None
    pieces = [itos[i] for i in bpe.encode(" " + query)]
    shown = " ".join(pieces[:8]) + (" ..." if len(pieces) > 8 else "")
    raise ValueError(f"{query!r} is {len(pieces)} tokens of this model ({shown}), and neighbours are of one token: "
                     f"give one, e.g. {max(pieces, key=len)!r}")


def check_problem(token: str) -> str | None:
    """Why a string is not one word token (WORD_RE's), or None: the checkpoint's check of a vocabulary."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return "an empty or overlong token"
    if WORD_RE.fullmatch(token) is None:
        return "a token the word rule would not make"
    return None


def word_vocab(train_lines: list[str], min_count: int, where: str) -> tuple[str, ...]:
    """`</s>`, `<unk>`, then the words seen at least min_count times in the training lines, most frequent first
    (ties in code-point order), so an embedding map or an adaptive softmax can take the first N as the common ones."""
    joined = " ".join(line for line in train_lines if line)  # one split in C, not one per line
    counts = Counter(joined.split(" ") if joined else [])
    kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    longest = max(kept, key=len, default="")
    if len(longest) > MAX_TOKEN_CHARS:  # its checkpoint would be refused as damaged: refused here instead
        raise DataError(f"{where}: a word of {len(longest):,} characters ({longest[:20]!r}...) is seen "
                        f"{counts[longest]:,} times in the training split; a word may have at most {MAX_TOKEN_CHARS} "
                        "(is the text split by spaces?); use --tokens chars")
    if not kept:
        top = max(counts.values(), default=0)
        raise DataError(f"{where}: --min-count {min_count:,} leaves only {UNK}: no word of the training split is seen "
                        f"{min_count:,} times (the most frequent, {top:,}); lower --min-count")
    return (LINE_END, UNK, *kept)


def no_space_problem(items: list[str], text: bool) -> str | None:
    """Why `--tokens words` does not fit normalised lines of a file without spaces, or None: a word list (--format
    lines) of one word a line, or running text whose tokens average over NO_SPACE_WORD_CHARS characters."""
    if not text:
        return "has no spaces, so --tokens words would make each line one word; use --tokens chars"
    chars = sum(map(len, items))
    tokens = sum(line.count(" ") + 1 for line in items if line)
    if chars <= NO_SPACE_WORD_CHARS * tokens:
        return None  # a word a line (or words split at punctuation): a text of words after all
    return (f"has no spaces and its tokens average {chars / tokens:,.0f} characters, so --tokens words would make "
            "each line one word; use --tokens chars")


def looks_like_text(lines: list[str]) -> bool:
    """Whether a word list looks like running text (long lines with many spaces), to suggest `--format text`."""
    sample = lines[:2000]
    if not sample:
        return False
    spaces = sum(line.count(" ") for line in sample) / len(sample)
    length = sum(map(len, sample)) / len(sample)
    return spaces >= 4 and length >= 30


def line_ids(lines: list[str], itos: tuple[str, ...], kind: str) -> list[list[int]]:
    """Each line's tokens as vocabulary indices (without its line end); unknown words are `<unk>`."""
    stoi = {t: i for i, t in enumerate(itos)}
    split = TOKENIZERS[kind].split
    unk = stoi.get(UNK, -1)
    return [[stoi.get(t, unk) for t in split(line)] for line in lines]


def stream_examples(per_line: list[list[int]], block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(context, target) pairs of running text, one token stream: every token and line end (index 0) is a target,
    its context the block_size tokens before it, sliding across line ends; the first contexts are padded with
    line ends."""
    import torch

    ids: list[int] = []
    for line in per_line:
        ids += line
        ids.append(0)
    Y = torch.tensor(ids, dtype=torch.long)  # (n,)
    seq = torch.cat([torch.zeros(block_size, dtype=torch.long), Y])  # (n + block_size,)
    X = seq.unfold(0, block_size, 1)[: len(ids)].contiguous()  # (n, block_size)
    return X, Y


def line_examples(per_line: list[list[int]], block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(context, target) pairs of a word list of tokens: each line's contexts start from line ends, as the
    lecture's names start from dots, and its line end is the last target."""
    import torch

    X: list[list[int]] = []
    Y: list[int] = []
    for line in per_line:
        ctx = [0] * block_size
        for t in (*line, 0):
            X.append(ctx)
            Y.append(t)
            ctx = [*ctx[1:], t]
    return torch.tensor(X, dtype=torch.long).view(-1, block_size), torch.tensor(Y, dtype=torch.long)  # (n, T), (n,)


def _code_points(text: str) -> torch.Tensor:
    """The code point of every character of a non-empty text, (len(text),) int32, without a Python loop."""
    import torch

    return torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32)


def _separator(stoi: dict[str, int]) -> str:
    """A character the vocabulary lacks, to join the words with: a line break, as no word has one."""
    for c in ("\n", "\x00"):
        if c not in stoi:
            return c
    return next(chr(c) for c in range(0xE000, 0x110000) if chr(c) not in stoi)  # private use, no surrogates


def build_examples(words: list[str], vocab: Vocab, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (context, target) pairs of the words, in the lecture's order, without a Python loop per character.

    The words are laid out in one sequence, each after `block_size` boundary tokens (the first of which
    ends the word before), with one boundary token at the very end. The targets are every character and
    the boundary after each word; a target's context is the block_size tokens before it, one row of a
    strided view of the sequence, so no (n_examples, block_size) index tensor is built. Characters are
    looked up by code point in a table, and word boundaries found as separators in the joined text: the
    per-character Python loop took seconds for a few million words. Raises KeyError for a character
    that is not in the vocabulary.
    """
    import torch

    if not words:
        return torch.zeros((0, block_size), dtype=torch.long), torch.zeros(0, dtype=torch.long)
    stoi = vocab.stoi
    sep = _separator(stoi)
    text = sep.join(words)
    n = len(words)
    if not text:  # only empty words: each is one example, its end after block_size boundaries
        return torch.zeros((n, block_size), dtype=torch.long), torch.zeros(n, dtype=torch.long)
    codes = _code_points(text)  # (L,) L = total characters + n - 1 separators
    L = len(codes)
    table = torch.full((max(int(codes.max()), ord(sep)) + 1,), -1, dtype=torch.long)  # at most 1.1M entries
    known = [(ord(c), i) for c, i in stoi.items() if ord(c) < len(table)]
    table[torch.tensor([k for k, _ in known], dtype=torch.long)] = torch.tensor([i for _, i in known], dtype=torch.long)
    table[ord(sep)] = 0  # a separator is the boundary token that ends the word before it
    ix = table[codes]  # (L,) vocabulary index of each character, 0 at separators
    is_sep = codes == ord(sep)
    del codes
    if bool((ix < 0).any()) or int(is_sep.sum()) != n - 1:
        bad = [c for c in text if c not in stoi and c != sep] or [sep]  # a word with the separator in it
        raise KeyError(bad[0])
    # Position in the sequence: word i's characters come after (i + 1) * block_size boundary tokens.
    # In the joined text they come after i separators, so they move by (block_size - 1) * i + block_size;
    # the separator that ends word i moves the same way and lands on the boundary that ends the word.
    pos = torch.zeros(L, dtype=torch.long)
    torch.cumsum(is_sep[:-1], 0, out=pos[1:])  # (L,) separators before each position: its word
    del is_sep
    pos.mul_(block_size - 1).add_(torch.arange(L)).add_(block_size)
    end = L + (block_size - 1) * (n - 1) + block_size  # the boundary that ends the last word
    seq = torch.zeros(end + 1, dtype=torch.long)  # boundary tokens everywhere ...
    seq[pos] = ix  # ... but the characters
    targets = torch.cat([pos, torch.tensor([end])])  # (n_examples,) increasing: the lecture's order
    del pos
    Y = torch.cat([ix, torch.zeros(1, dtype=torch.long)])  # (n_examples,)
    del ix
    X = seq.unfold(0, block_size, 1)[targets.sub_(block_size)]  # (n_examples, block_size)
    return X, Y

"""Datasets: one item per line of a UTF-8 text file, turned into (context, target) examples.

The vocabulary is the file's sorted characters with the boundary token `.` at index 0. A word
`emma` with block size 3 gives `... -> e`, `..e -> m`, `.em -> m`, `emm -> a`, `mma -> .`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DataError

if TYPE_CHECKING:  # torch is imported where tensors are made, so the app can read files without it
    import torch

BOUNDARY = "."
BUILTIN = ("names", "surnames")
SPLITS = ("train", "dev", "test")
SPLIT_SEED = 42  # fixed, so dev/test stay the same words whatever the training seed


def builtin_dir() -> Path:
    """Where the built-in datasets are: inside the installed package, or data/ of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "builtin_data", here.parent / "data"):
        if (candidate / "names.txt").is_file():
            return candidate
    return here.parent / "data"


def resolve_dataset(spec: str | os.PathLike[str]) -> Path:
    """A built-in dataset's name (`names`, `surnames`) or a path to a text file."""
    text = str(spec)
    if text in BUILTIN:
        return builtin_dir() / f"{text}.txt"
    return Path(text).expanduser()


def read_words(spec: str | os.PathLike[str], boundary: str = BOUNDARY) -> list[str]:
    """Read one item per line; raise DataError with a one-line reason for anything unusable."""
    path = resolve_dataset(spec)
    if not path.exists():
        hint = f" (built-in datasets: {', '.join(BUILTIN)})" if os.sep not in str(spec) else ""
        raise DataError(f"{path}: no such file{hint}")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a text file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    if b"\x00" in raw:
        raise DataError(f"{path}: looks like a binary file (it contains NUL bytes), not a word list")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 text (bad byte at line {line})") from None
    words = [w.strip() for w in text.splitlines()]
    words = [w for w in words if w]
    if not words:
        raise DataError(f"{path}: has no words (it is empty or only blank lines)")
    if boundary in text:
        for i, line in enumerate(text.splitlines(), 1):
            if boundary in line:
                raise DataError(
                    f"{path}: line {i} contains '{boundary}', which is the start/end token; remove it"
                )
    return words


@dataclass(frozen=True)
class Vocab:
    """Characters and their indices; index 0 is the boundary token."""

    itos: tuple[str, ...]

    @classmethod
    def from_words(cls, words: list[str], boundary: str = BOUNDARY) -> Vocab:
        return cls((boundary, *sorted(set("".join(words)))))

    @property
    def stoi(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, word: str) -> list[int]:
        stoi = self.stoi
        return [stoi[c] for c in word]

    def decode(self, ix: list[int]) -> str:
        return "".join(self.itos[i] for i in ix)


def build_examples(words: list[str], vocab: Vocab, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (context, target) pairs of the words, in the lecture's order, without a Python loop per example.

    Each word is laid out as `block_size` boundary tokens, its characters, one boundary token; every
    window of block_size + 1 that ends on a character or the final boundary is one example.
    """
    import torch

    if not words:
        return torch.zeros((0, block_size), dtype=torch.long), torch.zeros(0, dtype=torch.long)
    stoi = vocab.stoi
    chars = torch.tensor([stoi[c] for w in words for c in w], dtype=torch.long)  # (total_chars,)
    lengths = torch.tensor([len(w) for w in words], dtype=torch.long)  # (n_words,)
    n = len(words)
    span = lengths + block_size + 1  # laid-out length of each word
    offset = torch.cumsum(span, 0) - span  # where each word's layout starts
    seq = torch.zeros(int(span.sum()), dtype=torch.long)  # boundary tokens everywhere ...
    wid = torch.repeat_interleave(torch.arange(n), lengths)  # (total_chars,) word of each char
    char_start = torch.cumsum(lengths, 0) - lengths
    pos_in_word = torch.arange(len(chars)) - char_start[wid]
    seq[offset[wid] + block_size + pos_in_word] = chars  # ... but the characters
    n_ex = lengths + 1  # examples per word
    ex_wid = torch.repeat_interleave(torch.arange(n), n_ex)
    ex_start = torch.cumsum(n_ex, 0) - n_ex
    starts = offset[ex_wid] + torch.arange(int(n_ex.sum())) - ex_start[ex_wid]  # (n_examples,)
    X = seq[starts[:, None] + torch.arange(block_size)]  # (n_examples, block_size)
    Y = seq[starts + block_size]  # (n_examples,)
    return X, Y


def split_words(words: list[str], seed: int) -> dict[str, list[str]]:
    """Seeded 80/10/10 split by words (not by examples), so no word leaks across splits."""
    import torch

    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(words), generator=g).tolist()
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    shuffled = [words[i] for i in perm]
    return {"train": shuffled[:n1], "dev": shuffled[n1:n2], "test": shuffled[n2:]}


@dataclass
class Dataset:
    """A word list with its vocabulary, split, and example tensors for one block size."""

    source: str  # the built-in name or the path as given
    words: list[str]
    vocab: Vocab
    block_size: int
    seed: int
    split_words: dict[str, list[str]]
    X: dict[str, torch.Tensor]  # split -> (n, block_size) long
    Y: dict[str, torch.Tensor]  # split -> (n,) long

    @classmethod
    def load(cls, spec: str | os.PathLike[str], block_size: int, seed: int = SPLIT_SEED) -> Dataset:
        words = read_words(spec)
        vocab = Vocab.from_words(words)
        parts = split_words(words, seed)
        X, Y = {}, {}
        for name in SPLITS:
            X[name], Y[name] = build_examples(parts[name], vocab, block_size)
        if len(Y["train"]) == 0:
            raise DataError(f"{resolve_dataset(spec)}: too few words to make a training split")
        return cls(str(spec), words, vocab, block_size, seed, parts, X, Y)

    @property
    def train_set(self) -> set[str]:
        return set(self.split_words["train"])

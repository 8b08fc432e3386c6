"""Datasets: one item per line of a UTF-8 text file, turned into (context, target) examples.

The vocabulary is the file's sorted characters with the boundary token `.` at index 0. A word
`emma` with block size 3 gives `... -> e`, `..e -> m`, `.em -> m`, `emm -> a`, `mma -> .`.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, DataError
from core.runs.files import PathError, is_refused, safe_text, user_path
from core.sizes import format_size
from core.tokens import (  # noqa: F401  (Vocab and build_examples re-exported)
    BPE_TEXT,
    DEDUPE_TEXT,
    TextOptions,
    Vocab,
    build_examples,
    line_examples,
    line_ids,
    looks_like_text,
    no_space_problem,
    normalise,
    stream_examples,
    word_vocab,
)

if TYPE_CHECKING:  # torch is imported where tensors are made, so the app can read files without it
    import torch

BOUNDARY = "."
BUILTIN = ("names", "surnames", "kjv")  # kjv: running text (the King James Bible), for --format text
SPLITS = ("train", "dev", "test")
SPLIT_SEED = 42  # fixed, so dev/test stay the same words whatever the training seed
# Bounds that keep a hostile file from exhausting memory: the file is read whole, and every character
# becomes an example of block_size + 1 int64 indices. Name lists are a few MB; these are far above.
MAX_FILE_BYTES = 128 << 20
MAX_EXAMPLE_BYTES = 4 << 30  # see example_bytes
# Characters a word may not hold: core.runs.files.is_refused, the one rule the checkpoint's vocabulary check
# and every printed text use too (controls, format characters such as U+202E, separators). An escape sequence
# in a sampled name would garble the terminal, and a run trained on such a character could not be loaded back.
_ASCII_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")  # is_refused in ASCII, but the line ends
_CHARACTER_NAMES = {"\t": "a tab", "\x1b": "an escape character (U+001B)"}
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 (and UTF-32 LE) byte-order marks: never valid UTF-8


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
    return user_path(text)


def dataset_problem(text: str) -> str | None:
    """Why `text` names no dataset (the data setting's check, without the path), or None: a built-in name, or an
    existing regular file."""
    if text in BUILTIN:
        return None
    try:
        path = resolve_dataset(text)
    except PathError as e:  # ~ of an unknown user
        return str(e).split(": ", 1)[-1]
    if not path.exists():
        return "no such file" if os.sep in text or "." in text else "not a file or built-in name"
    if path.is_dir():
        return "is a directory"
    if not path.is_file():
        return "not a regular file (a pipe or a device?)"
    bad = refused_character(str(path.resolve()))
    return f"its path holds {describe_character(bad)}, which a run cannot record" if bad else None


def example_bytes(n_examples: int, block_size: int) -> int:
    """Memory to build the examples: int64 X and Y (block_size + 1 per example) kept, ~5 more while built."""
    return n_examples * 8 * (block_size + 6)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing what is not a regular file or is too large before reading it all."""
    if not path.is_file():  # a FIFO would block and /dev/zero never ends
        raise DataError(f"{path}: is not a regular file (a device or a pipe?); give a text file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # bounded even if the file grows while it is read
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise DataError(f"{path}: is larger than {format_size(MAX_FILE_BYTES)}, too large for a word list")
    return raw


def _looks_utf16(raw: bytes) -> bool:
    """Latin text in UTF-16 without a byte-order mark: NULs in (nearly) every other byte and not in the rest,
    which binary files do not have."""
    if len(raw) < 4 or len(raw) % 2 or b"\x00" not in raw:
        return False
    zeros = sorted((raw[0::2].count(0), raw[1::2].count(0)))  # (fewer, more)
    return zeros[1] >= 0.9 * len(raw) // 2 and zeros[0] <= 0.1 * len(raw) // 2


def refused_character(text: str) -> str | None:
    """The first character of `text` that no word may hold, or None: one rule for the word-list loader and the
    checkpoint's vocabulary. Each distinct character is looked up once, so a large file costs one pass in C."""
    bad = {c for c in set(text) if is_refused(c)}
    if not bad:
        return None
    return next(c for c in text if c in bad)


def describe_character(c: str) -> str:
    """A refused character as a message names it: `a tab`, `the character U+202E (right-to-left override)`."""
    if c in _CHARACTER_NAMES:
        return _CHARACTER_NAMES[c]
    name = unicodedata.name(c, "")
    return f"the character U+{ord(c):04X}" + (f" ({name.lower()})" if name else " (a control character)")


def _check_path_text(path: Path) -> None:
    """Refuse a file whose full path holds a character a word may not: the run records the path as its dataset,
    and a checkpoint or run.json naming such a path is refused as damaged when read back."""
    full = str(path.resolve())
    bad = refused_character(full)
    if bad is not None:
        raise DataError(f"{safe_text(full)}: its path holds {describe_character(bad)}, which a run cannot record; "
                        "rename or move the file")


def read_lines(spec: str | os.PathLike[str]) -> tuple[Path, str, list[str]]:
    """The file's path, its text and its lines (as an editor shows them), NFC; DataError for an unusable file.

    NFC, so an accented letter is one character whether the file has it composed (é) or decomposed
    (e + U+0301), as editors on different systems write it.
    """
    path = resolve_dataset(spec)
    if not path.exists():
        hint = f" (built-in datasets: {', '.join(BUILTIN)})" if os.sep not in str(spec) else ""
        raise DataError(f"{path}: no such file{hint}")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a text file")
    _check_path_text(path)
    raw = _read_bytes(path)
    if raw.startswith(_WIDE_BOMS) or _looks_utf16(raw):
        raise DataError(f"{path}: is UTF-16 (or UTF-32) text, not UTF-8; save it as UTF-8")
    if b"\x00" in raw:
        raise DataError(f"{path}: looks like a binary file (it contains NUL bytes), not a word list")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 text (bad byte at line {at}); save it as UTF-8") from None
    del raw
    text = unicodedata.normalize("NFC", text)
    # the lines an editor shows (str.splitlines also splits at \f, \x1c, U+2028...); split, not a regex: 2x faster
    lines = (text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return path, text, lines


def read_words(spec: str | os.PathLike[str], boundary: str | None = BOUNDARY) -> list[str]:
    """Read one item per line; raise DataError with a one-line reason for anything unusable (a boundary of None:
    no character is reserved, as for words, whose line end is a token of its own)."""
    path, text, lines = read_lines(spec)
    words = [w.strip() for w in lines]
    words = [w for w in words if w]
    if not words:
        raise DataError(f"{path}: has no words (it is empty or only blank lines)")
    if boundary is not None and boundary in text:
        for i, line in enumerate(lines, 1):
            if boundary in line:
                hint = "; if it is running text, give --format text" if looks_like_text(words) else ""
                raise DataError(f"{path}: line {i} contains '{boundary}', which is the start/end token; remove "
                                f"it{hint}")
    bad: set[str] = set()
    if not text.isascii() or _ASCII_CONTROL.search(text):  # quick for the common ASCII list; else one pass in C
        bad = {c for c in set(text) if is_refused(c)} - {"\n", "\r"}
    for i, line in enumerate(lines if bad else [], 1):  # only to name the line (a tab at its end is stripped)
        c = next((c for c in line.strip() if c in bad), None)
        if c is not None:
            raise DataError(f"{path}: line {i} contains {describe_character(c)}; a word list has one word per line "
                            "and no control or invisible format characters")
    return words


def split_lines(lines: list[str]) -> dict[str, list[str]]:
    """Running text's split, by position over its lines: the first 80% train, the next 10% dev, the last 10% test
    (contiguous, so no sentence is cut between splits except at the two borders)."""
    n1, n2 = int(0.8 * len(lines)), int(0.9 * len(lines))
    return {"train": lines[:n1], "dev": lines[n1:n2], "test": lines[n2:]}


def _refuse_characters(path: Path, lines: list[str]) -> None:
    """A line holding a control or invisible format character (is_refused), named by its number."""
    if refused_character("".join(lines)) is not None:
        i, c = next((i, c) for i, line in enumerate(lines, 1) if (c := refused_character(line)) is not None)
        raise DataError(f"{path}: line {i} contains {describe_character(c)}; running text may hold no control or "
                        "invisible format characters")


def split_words(words: list[str], seed: int) -> dict[str, list[str]]:
    """Seeded 80/10/10 split by words (not by examples), so no word leaks across splits."""
    import torch

    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(words), generator=g).tolist()
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    shuffled = list(map(words.__getitem__, perm))  # as [words[i] for i in perm], ~1.5x faster
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
    dedupe: bool = False  # split by distinct word (each duplicate line dropped) rather than by line
    lines: int = 0  # lines in the file before deduplication
    options: TextOptions = field(default_factory=TextOptions)  # format, tokens, min_count, lower
    chars: dict[str, int] = field(default_factory=dict)  # split -> characters of its normalised text, line ends too
    unk: dict[str, int] = field(default_factory=dict)  # split -> targets that are <unk> (word models)

    @classmethod
    def load(cls, spec: str | os.PathLike[str], block_size: int, seed: int = SPLIT_SEED,
             dedupe: bool = False, options: TextOptions | None = None, tokenizer: Any = None) -> Dataset:
        """Read, split and build examples. By default every line is a word, as in the lecture, so a word
        that is in the file twice can be in two splits; with `dedupe` each distinct word is kept once.
        `options` (core.tokens.TextOptions) reads running text or words; the default is the lecture's data.
        `tokenizer`: bpe's core.bpe.BPE to read the text with (a checkpoint's), instead of one learned on it."""
        if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 1:
            raise ConfigError(f"block_size must be a positive integer, got {block_size!r}")
        if options is not None and not options.plain:
            return cls.load_tokens(spec, block_size, seed, dedupe, options, tokenizer)
        words = read_words(spec)
        lines = len(words)
        if dedupe:
            words = list(dict.fromkeys(words))  # first occurrences, in file order
        path = resolve_dataset(spec)
        if int(0.8 * len(words)) == 0:  # split_words would leave the training split empty
            raise DataError(f"{path}: too few words to make a training split (it has {len(words)}; at least 2 are "
                            "needed, as 80% of the words train and the rest are held out)")
        n_examples = sum(map(len, words)) + len(words)  # one per character and one per word end
        need = example_bytes(n_examples, block_size)
        if need > MAX_EXAMPLE_BYTES:  # refused before any of it is allocated
            raise DataError(
                f"{path}: {len(words):,} words make {n_examples:,} examples, which at block size "
                f"{block_size:,} need {format_size(need)} of memory (the limit is {format_size(MAX_EXAMPLE_BYTES)}); "
                "use a smaller block size or file"
            )
        vocab = Vocab.from_words(words)
        parts = split_words(words, seed)
        X, Y = {}, {}
        for name in SPLITS:
            X[name], Y[name] = build_examples(parts[name], vocab, block_size)
        chars = {name: sum(map(len, parts[name])) + len(parts[name]) for name in SPLITS}
        return cls(str(spec), words, vocab, block_size, seed, parts, X, Y, dedupe, lines, chars=chars)

    @classmethod
    def load_tokens(cls, spec: str | os.PathLike[str], block_size: int, seed: int, dedupe: bool,
                    options: TextOptions, tokenizer: Any = None) -> Dataset:
        """Running text (split by position: the first 80% of lines train, the next 10% dev, the rest test), or a
        word list of words or of lowered characters (the seeded split by line). See core.tokens."""
        if dedupe and options.text:
            raise ConfigError(DEDUPE_TEXT, ("dedupe", "format"))
        if options.tokens == "bpe" and not options.text:
            raise ConfigError(BPE_TEXT, ("tokens", "format"))
        words = options.tokens == "words"
        path, text, raw = read_lines(spec)
        if not any(line.strip() for line in raw):  # as a word list is refused (read_words)
            raise DataError(f"{path}: has no words (it is empty or only blank lines)")
        spaced = " " in text or "\t" in text
        del text
        if words and not spaced and not options.text:
            raise DataError(f"{path}: {no_space_problem([], False)}")
        if options.text:
            items = [normalise(line, options.lower) for line in raw]
            _refuse_characters(path, items)
            if words and not spaced and (problem := no_space_problem(items, True)):
                raise DataError(f"{path}: {problem}")
            parts = split_lines(items)
        else:
            items = [normalise(w, options.lower) if words else w.lower() for w in read_words(spec, None if words
                                                                                             else BOUNDARY)]
            parts = split_words(list(dict.fromkeys(items)) if dedupe else items, seed)
        if not parts["train"]:
            raise DataError(f"{path}: too few lines to make a training split (it has {len(items)}; 80% of the lines "
                            "train and the rest are held out)")
        need = example_bytes(sum(map(len, items)) + len(items), block_size)  # characters: at least the tokens
        if need > MAX_EXAMPLE_BYTES:
            raise DataError(f"{path}: {len(items):,} lines need {format_size(need)} of memory at block size "
                            f"{block_size:,} (the limit is {format_size(MAX_EXAMPLE_BYTES)}); use a smaller file")
        vocab = _vocab(parts["train"], items, options, str(path), tokenizer)
        X, Y = {}, {}
        for name in SPLITS:
            per_line = (vocab.bpe.encode_lines(parts[name]) if vocab.bpe is not None
                        else line_ids(parts[name], vocab.itos, options.tokens))
            X[name], Y[name] = (stream_examples if options.text else line_examples)(per_line, block_size)
        chars = {name: sum(map(len, parts[name])) + len(parts[name]) for name in SPLITS}
        unk = {name: int((Y[name] == 1).sum()) if words else 0 for name in SPLITS}
        kept = sum(parts.values(), []) if dedupe else items
        return cls(str(spec), kept, vocab, block_size, seed, parts, X, Y, dedupe,
                   len(raw) if options.text else len(items), options, chars, unk)

    def describe(self) -> str:
        """A few words for `train`'s first line: "32,469 words, 27 characters", "31,102 lines, 944,810 tokens of
        5,546 words (<unk> 1.3% of train)", "... of 4,000 BPE tokens (learned in 2.1 s)"."""
        if self.options.plain:
            return f"{len(self.words):,} words, {len(self.vocab)} characters"
        tokens = sum(len(y) for y in self.Y.values())
        kind = {"words": f"{len(self.vocab):,} words", "bpe": f"{len(self.vocab):,} BPE tokens"}.get(
            self.options.tokens, f"{len(self.vocab)} characters")
        if self.vocab.bpe is not None:
            kind += f" (learned in {self.vocab.bpe.seconds:.1f} s)" if self.vocab.bpe.seconds else " (the run's own)"
        unk = (f" (<unk> {self.unk['train'] / max(1, len(self.Y['train'])):.1%} of train, min count "
               f"{self.options.min_count})" if self.options.tokens == "words" else "")
        what = "running text" if self.options.text else "a word list"
        return f"{what}, {self.lines:,} lines, {tokens:,} tokens of {kind}{unk}"

    def text_hint(self) -> str | None:
        """The one-line suggestion for a word list that looks like running text (long lines, many spaces)."""
        if self.options.format == "lines" and looks_like_text(self.words):
            return f"{self.source} looks like running text (long lines, many spaces); --format text reads it so"
        return None

    def fingerprint(self) -> dict[str, int | str]:
        """The data a run trains on, for run.json: the file's line count and a SHA-256 of its three splits as the
        model reads them (so a file edited since, even to a vocabulary of the same words, is told apart from it)."""
        h = hashlib.sha256()
        for name in SPLITS:
            h.update("\n".join(self.split_words[name]).encode("utf-8", "surrogatepass") + b"\x00")
        return {"lines": self.lines or len(self.words), "sha256": h.hexdigest()}

    @property
    def train_set(self) -> set[str]:
        return set(self.split_words["train"])


def _vocab(train: list[str], items: list[str], options: TextOptions, where: str, tokenizer: Any) -> Vocab:
    """The vocabulary of tokens: words seen min_count times in the training lines; a BPE tokenizer learned on them
    (or the one given, a checkpoint's); or every character of the text."""
    if options.tokens == "words":
        return Vocab(word_vocab(train, options.min_count, where), "words")
    if options.tokens == "bpe":
        from core.bpe import BPE

        bpe = tokenizer if tokenizer is not None else BPE.train(train, options.bpe_vocab)
        return Vocab(bpe.itos, "bpe", bpe)
    return Vocab((options.boundary(BOUNDARY), *sorted(set("".join(items)))), options.tokens)

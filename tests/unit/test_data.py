"""core.data: reading word lists, the vocabulary, (context, target) examples and the split."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import SMALL_WORDS, assert_one_line, small_trainer, write_words
from helpers import fingerprint, make_fifo, write_bytes

from core.data import BOUNDARY, SPLIT_SEED, Dataset, Vocab, build_examples, read_words, resolve_dataset, split_words
from core.errors import ConfigError, DataError
from core.probes.sample import sample


def lecture_examples(words: list[str], block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """makemore part 2's build_dataset loop, verbatim apart from names."""
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X, dtype=torch.long).view(-1, block_size), torch.tensor(Y, dtype=torch.long)


# ---------------------------------------------------------------- examples


@pytest.mark.parametrize("block_size", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("words", [SMALL_WORDS[:5], ["a", "bb", "emma", "x", "zyxwvutsrqponm"], SMALL_WORDS])
def test_build_examples_equals_lecture_loop(words, block_size):
    vocab = Vocab.from_words(words)
    X, Y = build_examples(words, vocab, block_size)
    Xr, Yr = lecture_examples(words, block_size)
    assert X.dtype == Y.dtype == torch.long
    assert X.shape == (sum(len(w) + 1 for w in words), block_size)
    assert torch.equal(X, Xr)
    assert torch.equal(Y, Yr)


def test_emma_block_3_gives_the_lectures_five_examples():
    vocab = Vocab.from_words(["emma"])
    X, Y = build_examples(["emma"], vocab, 3)
    pairs = [(vocab.decode(x), vocab.itos[y]) for x, y in zip(X.tolist(), Y.tolist())]
    assert pairs == [("...", "e"), ("..e", "m"), (".em", "m"), ("emm", "a"), ("mma", ".")]


def test_build_examples_of_no_words_is_empty_with_the_right_shape():
    X, Y = build_examples([], Vocab.from_words(["ab"]), 4)
    assert X.shape == (0, 4) and Y.shape == (0,)


def test_dataset_load_builds_each_split_from_its_words(words_file):
    data = Dataset.load(words_file, 4)
    assert data.block_size == 4 and data.seed == SPLIT_SEED
    assert data.source == str(words_file)
    assert data.words == SMALL_WORDS
    for split in ("train", "dev", "test"):
        X, Y = lecture_examples_for(data, split)
        assert torch.equal(data.X[split], X)
        assert torch.equal(data.Y[split], Y)
    assert data.train_set == set(data.split_words["train"])


def lecture_examples_for(data: Dataset, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The lecture loop over one split, with the whole dataset's vocabulary."""
    stoi = data.vocab.stoi
    X, Y = [], []
    for w in data.split_words[split]:
        context = [0] * data.block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X, dtype=torch.long).view(-1, data.block_size), torch.tensor(Y, dtype=torch.long)


# ---------------------------------------------------------------- vocabulary


def test_vocab_is_sorted_characters_after_the_boundary():
    vocab = Vocab.from_words(["emma", "ava", "zoe"])
    assert vocab.itos == (".", "a", "e", "m", "o", "v", "z")
    assert vocab.itos[0] == BOUNDARY
    assert len(vocab) == 7
    assert vocab.stoi == {c: i for i, c in enumerate(vocab.itos)}
    assert vocab.encode("zoe") == [6, 4, 2]
    assert vocab.decode(vocab.encode("emma")) == "emma"


def test_accented_letters_and_emoji_join_the_vocabulary(tmp_path):
    path = write_words(tmp_path / "w.txt", ["zoë", "josé", "ana😀", "chloé", "bo"] * 4)
    data = Dataset.load(path, 3)
    assert data.vocab.itos == (".", *sorted(set("zoëjoséana😀chloébo")))
    for ch in "ëé😀":
        assert ch in data.vocab.stoi
    assert data.vocab.itos[-1] == "😀"  # sorted by code point
    assert int(data.Y["train"].max()) < len(data.vocab)


# ---------------------------------------------------------------- split


@pytest.mark.parametrize("n", [10, 11, 60, 97, 1000])
def test_split_is_a_partition_with_80_10_10_sizes(n):
    words = [f"w{i % 37}" for i in range(n)]  # duplicates too: a multiset partition
    parts = split_words(words, seed=7)
    assert len(parts["train"]) == int(0.8 * n)
    assert len(parts["dev"]) == int(0.9 * n) - int(0.8 * n)
    assert len(parts["test"]) == n - int(0.9 * n)
    assert Counter(parts["train"]) + Counter(parts["dev"]) + Counter(parts["test"]) == Counter(words)


def test_split_of_distinct_words_is_disjoint():
    words = [f"word{i}" for i in range(200)]
    parts = split_words(words, seed=1)
    train, dev, test = (set(parts[s]) for s in ("train", "dev", "test"))
    assert not (train & dev) and not (train & test) and not (dev & test)
    assert train | dev | test == set(words)


def test_split_is_seeded():
    words = [f"word{i}" for i in range(200)]
    assert split_words(words, 5) == split_words(words, 5)
    assert split_words(words, 5) != split_words(words, 6)
    assert split_words(words, 5)["train"] != words[:160]  # actually shuffled


def test_dataset_split_depends_on_its_seed_only(words_file):
    a, b, c = Dataset.load(words_file, 3), Dataset.load(words_file, 3), Dataset.load(words_file, 3, seed=1)
    assert a.split_words == b.split_words
    assert torch.equal(a.X["train"], b.X["train"])
    assert a.split_words != c.split_words


def test_too_few_words_for_a_training_split(tmp_path):
    path = write_words(tmp_path / "one.txt", ["emma"])
    with pytest.raises(DataError, match="too few words") as e:
        Dataset.load(path, 3)
    assert str(path) in str(e.value)


# ---------------------------------------------------------------- reading


def test_crlf_whitespace_and_blank_lines(tmp_path):
    path = tmp_path / "w.txt"
    path.write_bytes(b"emma\r\n  olivia \r\n\r\n\t\n ava\t\nmary ann\n")
    assert read_words(path) == ["emma", "olivia", "ava", "mary ann"]


def test_utf8_bom_is_not_a_character(tmp_path):
    path = tmp_path / "w.txt"
    path.write_bytes("\ufeffemma\nzoë\n".encode())
    assert read_words(path) == ["emma", "zoë"]


def _bad(tmp_path: Path, name: str, content: bytes | None) -> Path:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.txt", None, "no such file"),
        ("empty.txt", b"", "has no words"),
        ("blank.txt", b"\n   \n\t\r\n\n", "has no words"),
        ("binary.bin", b"emma\x00\x01\x02olivia\n", "binary"),
        ("latin1.txt", b"emma\nzo\xeb\n", "not UTF-8 text (bad byte at line 2)"),
        ("bad.txt", b"\xff\xfe\xfa", "not UTF-8"),
        ("dot.txt", b"emma\n\nava.b\nzoe\n", "line 3 contains '.'"),
    ],
)
def test_bad_files_raise_data_error_naming_the_file(tmp_path, name, content, reason):
    path = _bad(tmp_path, name, content)
    with pytest.raises(DataError) as e:
        read_words(path)
    msg = str(e.value)
    assert reason in msg
    assert str(path) in msg
    assert "\n" not in msg
    with pytest.raises(DataError):
        Dataset.load(path, 3)


def test_a_directory_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="is a directory") as e:
        read_words(tmp_path)
    assert str(tmp_path) in str(e.value) and "\n" not in str(e.value)


def test_missing_bare_name_suggests_the_builtin_datasets():
    with pytest.raises(DataError, match="built-in datasets: names, surnames"):
        read_words("nosuchdataset")


# ---------------------------------------------------------------- built-in datasets


@pytest.mark.parametrize("name", ["names", "surnames"])
def test_builtin_datasets_are_found(name):
    path = resolve_dataset(name)
    assert path.is_file()
    words = read_words(name)
    assert 30_000 <= len(words) <= 34_000
    assert all(w and BOUNDARY not in w for w in words)


def test_builtin_names_dataset(names_data):
    assert names_data.vocab.itos == (".", *"abcdefghijklmnopqrstuvwxyz")
    assert names_data.words[:3] == ["emma", "olivia", "ava"]
    n = len(names_data.words)
    assert sum(len(names_data.split_words[s]) for s in ("train", "dev", "test")) == n
    assert len(names_data.Y["train"]) == sum(len(w) + 1 for w in names_data.split_words["train"])


def test_resolve_dataset_passes_paths_through(tmp_path):
    assert resolve_dataset(tmp_path / "x.txt") == tmp_path / "x.txt"
    assert resolve_dataset("~/x.txt") == Path.home() / "x.txt"


BAD_FILES = [
    # (id, how to make it under tmp_path -> path, fragment of the message)
    ("missing", lambda d: d / "missing.txt", "no such file"),
    ("directory", lambda d: (d / "folder").mkdir() or d / "folder", "is a directory, not a text file"),
    ("empty", lambda d: write_bytes(d / "empty.txt", b""), "has no words (it is empty or only blank lines)"),
    ("blank-lines", lambda d: write_bytes(d / "blank.txt", b"\n  \n\t\r\n \xc2\xa0\n\n"), "has no words"),
    ("binary", lambda d: write_bytes(d / "random.bin", random.Random(1).randbytes(4096) + b"\x00"),
     "looks like a binary file (it contains NUL bytes), not a word list"),
    ("latin-1", lambda d: write_bytes(d / "latin1.txt", "emma\nzoë\njosé\n".encode("latin-1")),
     "not UTF-8 text (bad byte at line 2); save it as UTF-8"),
    ("utf-16", lambda d: write_bytes(d / "utf16.txt", "emma\nzoë\n".encode("utf-16")), "is UTF-16 (or UTF-32) text"),
    ("utf-16-no-bom", lambda d: write_bytes(d / "utf16le.txt", "emma\nolivia\n".encode("utf-16-le")),
     "is UTF-16 (or UTF-32) text, not UTF-8; save it as UTF-8"),
    ("tab-inside", lambda d: write_bytes(d / "table.tsv", b"emma\nolivia\t2\n"), "line 2 contains a tab"),
    ("escape", lambda d: write_bytes(d / "ansi.txt", b"\x1b[31memma\nava\n"),
     "line 1 contains an escape character (U+001B)"),
    ("fifo", lambda d: make_fifo(d / "pipe.txt"), "is not a regular file (a device or a pipe?)"),
    ("right-to-left-override", lambda d: write_words(d / "rlo.txt", [f"name{i}" for i in range(11)] + ["\u202eava"]),
     "line 12 contains the character U+202E (right-to-left override)"),
    ("isolates", lambda d: write_words(d / "iso.txt", ["emma", "\u2066ava\u2069", "mia"]), "line 2 contains the "
     "character U+2066"),
    ("left-to-right-mark", lambda d: write_words(d / "lrm.txt", ["emma", "mia", "ava\u200e"]), "line 3 contains the "
     "character U+200E"),
]


@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_unusable_data_file_is_a_data_error_naming_it(tmp_path, make, fragment):
    path = make(tmp_path)
    before = fingerprint(path)
    with pytest.raises(DataError) as e:
        Dataset.load(path, 3)
    assert_one_line(e, str(path), fragment)
    assert fingerprint(path) == before


def test_devices_are_refused_without_reading_them():
    """/dev/zero never ends and /dev/null is empty but not a word list: neither is read."""
    for dev in ("/dev/zero", "/dev/null"):
        if Path(dev).exists():
            with pytest.raises(DataError) as e:
                read_words(dev)
            assert_one_line(e, dev, "is not a regular file")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import core.data

    monkeypatch.setattr(core.data, "MAX_FILE_BYTES", 1024)
    path = write_words(tmp_path / "big.txt", ["abcdef"] * 200)  # 1,400 bytes
    with pytest.raises(DataError) as e:
        read_words(path)
    assert_one_line(e, str(path), "is larger than 1.0 KiB")


@pytest.mark.parametrize("block_size", [0, -3, 2.5, "3", True])
def test_dataset_refuses_a_bad_block_size(words_file, block_size):
    with pytest.raises(ConfigError) as e:
        Dataset.load(words_file, block_size)
    assert_one_line(e, "block_size must be a positive integer")


def test_crlf_line_ends_load_the_same_words_as_lf(tmp_path):
    lf = write_words(tmp_path / "lf.txt", SMALL_WORDS)
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(("\r\n".join(SMALL_WORDS) + "\r\n").encode())
    cr = tmp_path / "cr.txt"  # classic Mac line ends
    cr.write_bytes(("\r".join(SMALL_WORDS)).encode())
    a = Dataset.load(lf, 3)
    for other in (crlf, cr):
        b = Dataset.load(other, 3)
        assert b.words == a.words == SMALL_WORDS
        assert b.vocab == a.vocab and "\r" not in b.vocab.itos
        for s in ("train", "dev", "test"):
            assert torch.equal(a.X[s], b.X[s]) and torch.equal(a.Y[s], b.Y[s])


def test_a_10000_character_line_loads_as_one_long_word(tmp_path):
    """Observed: the line is one word of 10,001 examples (vs 402 for all 60 names: 96% of the examples),
    its new characters (here q, x and the digits) join the vocabulary, and its memory is 10,001 x
    (block_size + 1) int64s, ~320 KB at block 3. Sampled words stop at the 50-character guard."""
    rng = random.Random(0)
    long_line = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10_000))
    path = write_words(tmp_path / "long.txt", [*SMALL_WORDS, long_line])
    data = Dataset.load(path, 3)
    assert long_line in data.words and len(data.words) == 61
    assert set("0123456789") <= set(data.vocab.itos)
    assert data.vocab.itos == (".", *sorted(set("".join(SMALL_WORDS)) | set(long_line)))
    total = sum(len(y) for y in data.Y.values())
    assert total == sum(len(w) + 1 for w in data.words) == 402 + 10_001
    split = next(s for s in ("train", "dev", "test") if long_line in data.split_words[s])
    assert len(data.Y[split]) >= 10_001
    # it trains and samples
    tr = small_trainer(data, steps=200, lr=0.2)
    tr.run()
    assert tr.step == 200 and math.isfinite(tr.snapshot().last_loss)
    out = sample(tr.model, data.vocab, 20, torch.Generator().manual_seed(0))
    assert len(out) == 20 and all(len(s.text) <= 50 for s in out)


def test_build_examples_with_hostile_characters_matches_the_lecture_loop():
    """The vectorised builder against the lecture's loop, on words with NUL, line breaks, astral characters."""
    rng = random.Random(3)
    alphabet = list("ab é😀\U0010fff0\n\x00\ufeff")
    for _ in range(200):
        words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7))) for _ in range(rng.randint(1, 6))]
        vocab, T = Vocab.from_words(words), rng.randint(1, 6)
        stoi = vocab.stoi
        X, Y = [], []
        for w in words:
            context = [0] * T
            for ch in w + ".":
                ix = 0 if ch == "." else stoi[ch]
                X.append(context)
                Y.append(ix)
                context = context[1:] + [ix]
        Xb, Yb = build_examples(words, vocab, T)
        assert torch.equal(Xb, torch.tensor(X, dtype=torch.long).view(-1, T)), (words, T)
        assert torch.equal(Yb, torch.tensor(Y, dtype=torch.long))
    with pytest.raises(KeyError):
        build_examples(["abc"], Vocab.from_words(["ab"]), 3)  # a character outside the vocabulary
    with pytest.raises(KeyError):
        build_examples(["a\nb"], Vocab.from_words(["ab"]), 3)  # a line break is not a word separator


def test_builtin_names_have_duplicates_the_dataset_view_counts():
    from core.probes.inspection import dataset_stats

    st = dataset_stats(Dataset.load("names", 3))
    assert st["lines"] == 32_469 and st["unique_words"] == 29_910 and st["duplicate_lines"] == 2_559


# One of each kind of character a word may not hold (core.data.is_refused): the bidirectional override and
# isolates (shown in another order than stored), invisible marks, controls, separators, a byte-order mark mid-file.
REFUSED = {"\u202e": "U+202E (right-to-left override)", "\u2066": "U+2066", "\u2067": "U+2067", "\u2068": "U+2068",
           "\u2069": "U+2069 (pop directional isolate)", "\u202a": "U+202A", "\u200e": "U+200E (left-to-right mark)",
           "\u200f": "U+200F", "\u061c": "U+061C", "\ufeff": "U+FEFF", "\u00ad": "U+00AD (soft hyphen)",
           "\u2060": "U+2060", "\u2028": "U+2028 (line separator)", "\u2029": "U+2029", "\x85": "U+0085",
           "\x0b": "U+000B", "\x0c": "U+000C", "\x1c": "U+001C", "\x7f": "U+007F", "\x9b": "U+009B",
           "\t": "a tab", "\x1b": "an escape character (U+001B)", "\U000e0041": "U+E0041 (tag latin capital letter a)"}


@pytest.mark.parametrize("char", list(REFUSED), ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_every_refused_character_is_named_with_its_line(tmp_path, char):
    """12 lines, the 7th holding the character at its start, middle or end: the editor's line number, even for
    characters str.splitlines would take as a line break (U+2028, \\f, \\x85)."""
    words = [f"name{chr(97 + i)}" for i in range(12)]
    words[6] = f"{char}ab{char}cd"
    path = write_words(tmp_path / "bad.txt", words)
    with pytest.raises(DataError) as e:
        read_words(path)
    assert_one_line(e, str(path), "line 7 contains", REFUSED[char])


def test_the_joiners_some_scripts_spell_with_are_words(tmp_path):
    words = ["می\u200cخواهم", "क\u094d\u200dष", "emma", "ava"]  # Persian's non-joiner, Devanagari's joiner
    assert read_words(write_words(tmp_path / "ok.txt", words)) == words


def test_the_line_number_counts_crlf_and_cr_lines_as_an_editor_does(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes("emma\r\nava\rmia\n\nzo\u202eë\n".encode())
    with pytest.raises(DataError) as e:
        read_words(path)
    assert_one_line(e, "line 5 contains the character U+202E")


def test_printed_text_escapes_exactly_what_a_word_may_not_hold():
    """safe_text (every path, run name and file text printed) follows the words' rule: a run folder named with
    U+202E or U+2028 is shown escaped, an accent, an emoji with its joiner or a Persian non-joiner as it is."""
    from core.runs.files import has_unsafe, safe_text

    for c in REFUSED:
        shown = safe_text(f"run{c}x")
        assert c not in shown and shown.startswith("run\\") and shown.endswith("x") and has_unsafe(c), repr(c)
    for ok in ("zoë", "👩\u200d🔬", "می\u200cخواهم", "mary ann", "a\u00a0b", "\ue000"):
        assert safe_text(ok) == ok and not has_unsafe(ok)
    assert safe_text("\U000e0041") == "\\U000e0041"


@pytest.mark.parametrize("char", ["\u202e", "\u200e", "\x1b", "\u2028"])
def test_a_file_whose_path_holds_a_refused_character_is_refused(tmp_path, char):
    """The run records the file's path as its dataset, and a checkpoint naming such a path reads back as damaged:
    refused before training, by the loader and by the data setting's check (the app's field, sweep --data),
    reached directly or through a symlink."""
    from core.settings import BY_NAME

    folder = tmp_path / f"a{char}b"
    folder.mkdir()
    path = write_words(folder / "w.txt", SMALL_WORDS)
    (tmp_path / "link").symlink_to(folder)
    for given in (path, tmp_path / "link" / "w.txt"):
        with pytest.raises(DataError) as e:
            read_words(given)
        assert_one_line(e, f"U+{ord(char):04X}", "rename or move the file")
        assert char not in str(e.value)
        assert f"U+{ord(char):04X}" in BY_NAME["data"].parse(str(given))[1]

"""core.data: reading word lists, the vocabulary, (context, target) examples and the split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import SMALL_WORDS, write_words

from core.data import BOUNDARY, SPLIT_SEED, Dataset, Vocab, build_examples, read_words, resolve_dataset, split_words
from core.errors import DataError


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

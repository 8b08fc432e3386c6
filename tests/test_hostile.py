"""Hostile input to the core and the CLI: every case ends in one clear line, and nothing the user had is lost.

Data files (missing, a directory, empty, binary, not UTF-8, CRLF, a 10,000-character line, emoji, a single
word, 2 million lines), hyperparameters (zero, negative, non-numeric, NaN, inf, absurdly large), a diverging
run, and damaged or foreign checkpoints. A core error is a DataError / ConfigError / CheckpointError whose
message names the file and the problem; a CLI error is exit status 2 and one `mlp-tui: error: ...` line.
Cases that exposed a bug (a traceback, a hang, unbounded memory) were fixed where the bug was.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch
from conftest import (
    SMALL_WORDS,
    TRAINED_STEPS,
    assert_cli_error,
    assert_one_line,
    run_cli,
    small_trainer,
    write_words,
)

from core.config import MAX_BATCH, MAX_PARAMS, MLPConfig, TrainConfig
from core.data import Dataset, Vocab, build_examples, read_words
from core.engine.train import Trainer
from core.errors import CheckpointError, ConfigError, DataError
from core.link import protocol as P
from core.model import MLP
from core.probes.sample import sample
from core.runs.checkpoint import load_checkpoint
from tui.cli import build_parsers

MLP_TUI = Path(sys.executable).parent / "mlp-tui"
COMMAND = [str(MLP_TUI)] if MLP_TUI.exists() else [sys.executable, "-m", "tui.cli"]


# ---------------------------------------------------------------- helpers


def fingerprint(path: Path) -> tuple[bytes, int] | None:
    """What the user had: a file's bytes and modification time (None for a missing file)."""
    if not path.is_file():
        return None
    return path.read_bytes(), path.stat().st_mtime_ns


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    def bad(name):
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, parse_constant=bad)


def train_argv(data: Path | str, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--out", str(out), "--quiet", *extra]


# ---------------------------------------------------------------- data files: refused


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


BAD_FILES = [
    # (id, how to make it under tmp_path -> path, fragment of the message)
    ("missing", lambda d: d / "missing.txt", "no such file"),
    ("directory", lambda d: (d / "folder").mkdir() or d / "folder", "is a directory, not a text file"),
    ("empty", lambda d: _write(d / "empty.txt", b""), "has no words (it is empty or only blank lines)"),
    ("blank-lines", lambda d: _write(d / "blank.txt", b"\n  \n\t\r\n \xc2\xa0\n\n"), "has no words"),
    ("binary", lambda d: _write(d / "random.bin", random.Random(1).randbytes(4096) + b"\x00"),
     "looks like a binary file (it contains NUL bytes), not a word list"),
    ("latin-1", lambda d: _write(d / "latin1.txt", "emma\nzoë\njosé\n".encode("latin-1")),
     "not UTF-8 text (bad byte at line 2); save it as UTF-8"),
    ("utf-16", lambda d: _write(d / "utf16.txt", "emma\nzoë\n".encode("utf-16")), "is UTF-16 (or UTF-32) text"),
    ("utf-16-no-bom", lambda d: _write(d / "utf16le.txt", "emma\nolivia\n".encode("utf-16-le")),
     "is UTF-16 (or UTF-32) text, not UTF-8; save it as UTF-8"),
    ("tab-inside", lambda d: _write(d / "table.tsv", b"emma\nolivia\t2\n"), "line 2 contains a tab"),
    ("escape", lambda d: _write(d / "ansi.txt", b"\x1b[31memma\nava\n"),
     "line 1 contains an escape character (U+001B)"),
    ("fifo", lambda d: _fifo(d / "pipe.txt"), "is not a regular file (a device or a pipe?)"),
]


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_unusable_data_file_is_a_data_error_naming_it(tmp_path, make, fragment):
    path = make(tmp_path)
    before = fingerprint(path)
    with pytest.raises(DataError) as e:
        Dataset.load(path, 3)
    assert_one_line(e, str(path), fragment)
    assert fingerprint(path) == before


@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_unusable_data_file_on_the_command_line(capsys, tmp_path, make, fragment):
    path = make(tmp_path)
    before = fingerprint(path)
    code, out, err = run_cli(capsys, train_argv(path, tmp_path / "run", "--steps", "10"))
    assert_cli_error(code, err, str(path), fragment)
    assert out == ""
    assert not (tmp_path / "run").exists()  # refused before a run folder was made
    assert fingerprint(path) == before


def test_devices_are_refused_without_reading_them():
    """/dev/zero never ends and /dev/null is empty but not a word list: neither is read."""
    for dev in ("/dev/zero", "/dev/null"):
        if Path(dev).exists():
            with pytest.raises(DataError) as e:
                read_words(dev)
            assert_one_line(e, dev, "is not a regular file")


def test_a_checkpoint_given_as_data_is_binary(capsys, tmp_path, checkpoint):
    code, _, err = run_cli(capsys, train_argv(checkpoint, tmp_path / "run", "--steps", "10"))
    assert_cli_error(code, err, str(checkpoint), "binary")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import core.data

    monkeypatch.setattr(core.data, "MAX_FILE_BYTES", 1024)
    path = write_words(tmp_path / "big.txt", ["abcdef"] * 200)  # 1,400 bytes
    with pytest.raises(DataError) as e:
        read_words(path)
    assert_one_line(e, str(path), "is larger than 1.0 KiB")


def test_examples_that_would_not_fit_are_refused_before_they_are_built(capsys, tmp_path, words_file, monkeypatch):
    """--block-size 10,000,000 on 60 names would be 33 GB of contexts; refused with the size, nothing built."""
    import core.data

    def never(*a, **k):
        raise AssertionError("built the examples before refusing them")

    monkeypatch.setattr(core.data, "build_examples", never)
    with pytest.raises(DataError) as e:
        Dataset.load(words_file, 10_000_000)
    msg = assert_one_line(e, str(words_file), "60 words make 402 examples", "block size 10,000,000", "GiB")
    assert "the limit is 4.0 GiB" in msg
    code, _, err = run_cli(capsys, train_argv(words_file, tmp_path / "run", "--block-size", "10000000"))
    assert_cli_error(code, err, "--block-size", "must be <= 256")  # the flag's range stops it first


@pytest.mark.parametrize("block_size", [0, -3, 2.5, "3", True])
def test_dataset_refuses_a_bad_block_size(words_file, block_size):
    with pytest.raises(ConfigError) as e:
        Dataset.load(words_file, block_size)
    assert_one_line(e, "block_size must be a positive integer")


# ---------------------------------------------------------------- data files: loaded


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


def test_emoji_and_accented_letters_join_the_vocabulary_train_and_sample(capsys, tmp_path):
    nfd_jose = "jose\u0301"  # é written as e + combining acute (macOS file names, some editors)
    words = ["zoë", "josé", nfd_jose, "ana😀", "chloé", "bo", "🙂🙂", "łukasz", "søren", "ümit"] * 3
    path = write_words(tmp_path / "intl.txt", words)
    data = Dataset.load(path, 3)
    for ch in "ëé😀🙂łøü":
        assert ch in data.vocab.stoi
    assert "\u0301" not in data.vocab.stoi  # normalised to NFC: one é, not e and an accent
    assert data.words.count("josé") == 6
    tr = small_trainer(data, steps=300, lr=0.3)
    tr.run()
    assert math.isfinite(tr.evaluate()["train"])
    out = sample(tr.model, data.vocab, 30, torch.Generator().manual_seed(1))
    assert all(set(s.text) <= set(data.vocab.itos[1:]) for s in out)
    assert any(set(s.text) & set("ëé😀🙂łøü") for s in out)
    # the same through the command line: train, then sample prints the characters as they are
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, train_argv(path, run, "--steps", "300", "--hidden", "16", "--lr", "0.3"))
    assert code == 0, err
    code, out_text, err = run_cli(capsys, ["sample", "--checkpoint", str(run / "model.pt"), "-n", "30", "--seed", "1"])
    assert code == 0 and err == ""
    assert set("".join(out_text.split())) <= set(data.vocab.itos[1:])


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


# ---------------------------------------------------------------- a single word, a handful of words


def test_a_single_word_is_refused_clearly(capsys, tmp_path):
    """80% of one word is no word: the training split would be empty. Refused by Dataset.load (so the
    Trainer and evaluate never see it) and by `mlp-tui train`, with the count and the minimum."""
    path = write_words(tmp_path / "one.txt", ["emma"])
    with pytest.raises(DataError) as e:
        Dataset.load(path, 3)
    assert_one_line(e, str(path), "too few words to make a training split", "it has 1", "at least 2")
    code, _, err = run_cli(capsys, train_argv(path, tmp_path / "run", "--steps", "50"))
    assert_cli_error(code, err, str(path), "too few words")
    assert not (tmp_path / "run").exists()


def test_two_words_train_with_an_empty_dev_split(capsys, tmp_path):
    """Two words: one trains, one is the test split, dev is empty. Training works; the dev loss is NaN
    (never a best), shown as `nan` and written as null; eval prints valid JSON."""
    path = write_words(tmp_path / "two.txt", ["emma", "olivia"])
    data = Dataset.load(path, 3)
    assert [len(data.split_words[s]) for s in ("train", "dev", "test")] == [1, 0, 1]
    assert data.X["dev"].shape == (0, 3)
    tr = small_trainer(data, steps=100)
    while tr.step < 100:  # evaluates dev after every chunk: NaN, no best, no crash
        assert tr.train_chunk()
        tr.evaluate(("dev",))
    losses = tr.evaluate()
    assert math.isnan(losses["dev"]) and math.isfinite(losses["train"]) and math.isfinite(losses["test"])
    assert tr.best_dev == math.inf and tr.best_dev_step == -1 and tr.snapshot().state == "done"
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, train_argv(path, run, "--steps", "50", "--keep-best"))
    assert code == 0 and "Traceback" not in err
    assert "dev nan" in err
    metrics = strict_json((run / "metrics.json").read_text())
    assert metrics["steps"] == 50 and metrics["dev_loss"] is None and metrics["best_dev_loss"] is None
    assert metrics["kept"] == "last" and math.isfinite(metrics["train_loss"])
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(run)])
    assert code == 0 and strict_json(out)["dev_loss"] is None


def test_patience_without_a_dev_split_is_refused(tmp_path):
    data = Dataset.load(write_words(tmp_path / "two.txt", ["emma", "olivia"]), 3)
    with pytest.raises(ConfigError, match="dev"):
        small_trainer(data, steps=100, patience=2)


# ---------------------------------------------------------------- 2 million lines


LOAD_SCRIPT = r"""
import json, resource, sys, time
import core  # noqa: F401
import torch
from core.data import Dataset
torch.set_num_threads(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
data = Dataset.load(sys.argv[1], 3)
seconds = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "growth_mib": (after - before) / 1024, "words": len(data.words),
                  "examples": sum(len(y) for y in data.Y.values()), "vocab": len(data.vocab),
                  "train": len(data.split_words["train"])}))
"""


@pytest.mark.slow
def test_two_million_lines_load_in_seconds_and_bounded_memory(tmp_path, record_property):
    """2,000,000 random 6-letter words (14 MB): measured in a fresh process, so ru_maxrss is this load's peak.

    Before the vectorised builder: 13 s and +1.35 GiB at block 3. Now ~2-5 s (on a loaded 2-core machine)
    and ~+0.75 GiB, most of it the examples themselves (14M x 4 int64s = 448 MB) and 2M Python strings.
    """
    n = 2_000_000
    table = bytes(ord("a") + b % 26 for b in range(256))
    content = bytearray(random.Random(0).randbytes(7 * n).translate(table))
    content[6::7] = b"\n" * n
    path = tmp_path / "big.txt"
    path.write_bytes(content)
    r = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.strip().splitlines()[-1])
    record_property("load_seconds", round(m["seconds"], 2))
    record_property("peak_rss_growth_mib", round(m["growth_mib"]))
    print(f"2M lines: loaded in {m['seconds']:.2f} s, peak RSS +{m['growth_mib']:.0f} MiB")
    assert m["words"] == n and m["vocab"] == 27 and m["train"] == 1_600_000
    assert m["examples"] == 7 * n
    assert m["seconds"] < 10
    assert m["growth_mib"] < 2048


# ---------------------------------------------------------------- hyperparameters: configs


NAN, INF = float("nan"), float("inf")
BAD_TRAIN = [
    ("batch_size", [0, -1, 1.5, "32", None, True, NAN, MAX_BATCH + 1]),
    ("steps", [0, -5, 2.5, "100", None, True, INF]),
    ("lr", [0, -0.1, NAN, INF, -INF, "0.1", None, True]),
    ("lr_decay", [0, -1, NAN, INF, "0.1"]),
    ("decay_at", [-1, 1.5, "10", NAN]),
    ("warmup", [-1, NAN, "5"]),
    ("patience", [-1, 0.5]),
    ("weight_decay", [-0.1, NAN, INF, "0", True]),
    ("dropout", [-0.1, 1, 1.5, NAN, INF, True, "0.2"]),
    ("beta1", [1, -0.1, NAN, True]),
    ("beta2", [1.0, INF]),
    ("minutes", [0, -1, NAN, INF, "5", True]),
    ("seed", [-1, 2**63, 1.5, "1", True]),
    ("optimizer", ["adam", "", None]),
    ("schedule", ["linear", None]),
]


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in BAD_TRAIN for v in vs],
                         ids=[f"{n}={v!r}" for n, vs in BAD_TRAIN for v in vs])
def test_train_config_refuses(name, value):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**{name: value}).validate()
    assert_one_line(e, name)


BAD_MODEL = [(n, [0, -1, 2.0, "10", None, True, NAN]) for n in ("vocab_size", "block_size", "n_embd", "n_hidden")]
BAD_MODEL += [("init", ["xavier", None]), ("batchnorm", ["yes", 1, None])]


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in BAD_MODEL for v in vs],
                         ids=[f"{n}={v!r}" for n, vs in BAD_MODEL for v in vs])
def test_model_config_refuses(name, value):
    with pytest.raises(ConfigError) as e:
        MLPConfig(**{name: value}).validate()
    assert_one_line(e, name)


@pytest.mark.parametrize(
    ("kw", "fragments"),
    [
        ({"block_size": 256, "n_hidden": 100_000, "n_embd": 4096},  # each at its bound; weights: 391 GiB
         ["would have 104,", "parameters", "GiB of weights", f"the limit is {MAX_PARAMS:,}", "hidden 100,000"]),
        ({"vocab_size": 1_112_064},  # every Unicode character in the data: W2 alone is 222M
         ["vocabulary 1,112,064", "parameters"]),
        ({"n_hidden": 100_000},  # 5.7M parameters pass, but one evaluation chunk would be ~18 GiB
         ["hidden 100,000", "for the activations of 8,192 examples at once (evaluation)", "limit is 4.0 GiB"]),
        ({"block_size": 128, "n_embd": 4096}, ["embedding 4,096", "activations"]),
        ({"vocab_size": 500_000, "n_hidden": 50}, ["vocabulary 500,000", "activations"]),
    ],
)
def test_absurd_model_sizes_are_refused_with_the_size(kw, fragments):
    with pytest.raises(ConfigError) as e:
        MLPConfig(**kw).validate()
    assert_one_line(e, *fragments)


def test_a_batch_too_large_for_the_model_is_refused_by_the_config():
    """Each valid alone: batch 65,536 and 20,000 hidden units; together ~30 GiB of (B, H) buffers."""
    model = MLPConfig(n_hidden=20_000)
    model.validate()
    with pytest.raises(ConfigError) as e:
        TrainConfig(batch_size=65_536).check_fits(model)
    assert_one_line(e, "hidden 20,000", "a training batch of 65,536", "GiB")
    TrainConfig(batch_size=65_536).check_fits(MLPConfig())  # the lecture's model takes the largest batch


def test_trainer_refuses_a_batch_that_would_not_fit_before_allocating(small_data, monkeypatch):
    import core.engine.train

    def never(*a, **k):
        raise AssertionError("allocated before refusing")

    monkeypatch.setattr(core.engine.train, "MLP", never)
    monkeypatch.setattr(core.engine.train.Trainer, "_make_kernel", never)
    with pytest.raises(ConfigError, match="training batch"):
        Trainer(small_data, MLPConfig(n_hidden=20_000), TrainConfig(batch_size=65_536))


def test_an_absurd_lr_in_a_config_diverges_and_keeps_finite_weights(small_data):
    with pytest.raises(ConfigError, match="lr must be <= 1,000"):
        small_trainer(small_data, lr=1e300)
    tr = small_trainer(small_data, lr=1000, steps=1000)  # the largest lr the settings take
    before = [t.clone() for t in tr.model.parameters()]
    tr.run()
    snap = tr.snapshot()
    assert snap.state == "diverged" and "training diverged" in snap.message and "\n" not in snap.message
    assert tr.step == 0
    for a, b in zip(before, tr.model.parameters()):
        assert torch.equal(a, b.detach())


# ---------------------------------------------------------------- hyperparameters: flags


INT_FLAGS = ["--batch-size", "--steps", "--hidden", "--emb-dim", "--block-size"]
NONNEG_INT_FLAGS = ["--decay-at", "--warmup", "--patience", "--seed"]
POS_FLOAT_FLAGS = ["--lr", "--lr-decay", "--minutes"]
BAD_FLAGS = (
    [(f, v) for f in INT_FLAGS for v in ("0", "-1", "abc", "nan", "inf", "1.5", "1e3", "")]
    + [(f, v) for f in NONNEG_INT_FLAGS for v in ("-1", "abc", "nan", "1.5")]
    + [(f, v) for f in POS_FLOAT_FLAGS for v in ("0", "-1", "abc", "nan", "inf", "-inf", "1e999", "1e-999")]
    + [("--weight-decay", v) for v in ("-1", "abc", "nan", "inf")]
    + [("--dropout", v) for v in ("-0.1", "1", "abc", "nan", "inf")]
)


@pytest.mark.parametrize(("flag", "value"), BAD_FLAGS, ids=[f"{f}={v}" for f, v in BAD_FLAGS])
def test_bad_flag_values_exit_2_in_one_line(capsys, tmp_path, flag, value):
    code, out, err = run_cli(capsys, ["train", f"{flag}={value}", "--out", str(tmp_path / "run")])
    assert_cli_error(code, err, flag)
    assert out == "" and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--block-size", "256", "--hidden", "100000", "--emb-dim", "4096"],
         ["would have 104,", "parameters", "GiB of weights"]),
        (["--hidden", "100000"], ["hidden 100,000", "activations of 8,192 examples"]),
        (["--block-size", "128", "--emb-dim", "4096"], ["embedding 4,096", "activations"]),
        (["--hidden", "3000000"], ["--hidden", "must be <= 100,000"]),  # beyond the setting's range
        (["--batch-size", "1000000000"], [f"must be <= {MAX_BATCH:,}"]),
        (["--seed", str(2**64)], [f"must be <= {2**63 - 1:,}"]),
    ],
)
def test_absurd_flags_are_refused_before_the_model_is_built(capsys, tmp_path, words_file, monkeypatch, argv,
                                                            fragments):
    import core.engine.train

    def never(*a, **k):
        raise AssertionError("built the model before refusing it")

    monkeypatch.setattr(core.engine.train, "MLP", never)
    code, _, err = run_cli(capsys, train_argv(words_file, tmp_path / "run", *argv))
    assert_cli_error(code, err, *fragments)
    assert not (tmp_path / "run").exists()


def test_an_absurd_thread_count_is_refused():
    with pytest.raises(SystemExit) as e:  # parsing only: nothing is trained
        build_parsers()["train"].parse_args(["--threads", "100000"])
    assert e.value.code == 2


def test_a_batch_larger_than_the_training_split_is_drawn_with_replacement(capsys, tmp_path):
    """Allowed, as the lecture's randint: 2 words leave 1 training word (5 examples) for a batch of 64.
    Documented in the README ("Your own data")."""
    path = write_words(tmp_path / "two.txt", ["emma", "olivia"])
    data = Dataset.load(path, 3)
    ntr = len(data.Y["train"])
    assert ntr < 64
    tr = small_trainer(data, batch_size=64, steps=200, lr=0.5)
    assert tr.train_chunk()
    first = tr.snapshot().last_loss
    tr.run()
    assert tr.step == 200 and tr.snapshot().state == "done"
    assert tr.evaluate()["train"] < first  # it memorises the one word
    code, _, err = run_cli(capsys, train_argv(path, tmp_path / "run", "--batch-size", "4096", "--steps", "20"))
    assert code == 0, err
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "drawn with replacement" in readme and "larger than the training split" in " ".join(readme.split())


def test_a_block_size_longer_than_any_word(capsys, tmp_path, words_file):
    """Context 16 for names of at most 9 letters: every context starts with padding; it trains and samples."""
    longest = max(map(len, SMALL_WORDS))
    data = Dataset.load(words_file, 16)
    assert longest < 16 and data.X["train"].shape[1] == 16
    assert bool((data.X["train"][:, : 16 - longest] == 0).all())  # the first 16 - 9 columns are always boundary
    tr = small_trainer(data, steps=300, lr=0.3)
    tr.run()
    losses = tr.evaluate()
    assert all(math.isfinite(v) for v in losses.values())
    out = sample(tr.model, data.vocab, 10, torch.Generator().manual_seed(0))
    assert len(out) == 10
    code, _, err = run_cli(capsys, train_argv(words_file, tmp_path / "run", "--block-size", "64", "--steps", "50"))
    assert code == 0, err


# ---------------------------------------------------------------- a diverging run


@pytest.mark.slow
def test_lr_1000_diverges_is_reported_and_saves_the_last_good_weights(tmp_path):
    """`mlp-tui train --lr 1000 --steps 5000` (the installed command, so a hang is a timeout, not a stuck suite)."""
    out = tmp_path / "run"
    r = subprocess.run([*COMMAND, "train", "--lr", "1000", "--steps", "5000", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert "Traceback" not in r.stderr
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.splitlines() if "training diverged" in line]
    assert len(lines) == 1, r.stderr
    m = re.search(r"the loss (became non-finite|jumped to \S+) at step ([\d,]+) with lr 1000\. .*weights from "
                  r"step ([\d,]+) restored\. Try a lower learning rate", lines[0])
    assert m, lines[0]
    good_step = int(m.group(3).replace(",", ""))
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt.step == good_step < 5000
    for name, t in ckpt.model.state_dict().items():
        assert bool(torch.isfinite(t).all()), name
    if good_step == 0:  # the last good weights are the initial ones
        init = MLP(ckpt.model_config, torch.Generator().manual_seed(ckpt.train_config.seed))
        for a, b in zip(init.parameters(), ckpt.model.parameters()):
            assert torch.equal(a, b)
    metrics = strict_json((out / "metrics.json").read_text())
    assert metrics["state"] == "diverged" and metrics["steps"] == good_step
    assert all(math.isfinite(metrics[k]) for k in ("train_loss", "dev_loss", "test_loss"))


# ---------------------------------------------------------------- checkpoints


def _rewritten(src: Path, dst: Path, **changes) -> Path:
    ck = torch.load(src, map_location="cpu", weights_only=True)
    ck.update(changes)
    torch.save(ck, dst)
    return dst


BAD_CHECKPOINTS = [
    ("truncated-half", lambda src, d: _write(d / "half.pt", src.read_bytes()[: src.stat().st_size // 2]),
     "not a readable checkpoint (the file is truncated or damaged"),
    ("truncated-10-bytes", lambda src, d: _write(d / "ten.pt", src.read_bytes()[:10]), "not a readable checkpoint"),
    ("empty", lambda src, d: _write(d / "empty.pt", b""), "not a readable checkpoint"),
    ("random-bytes", lambda src, d: _write(d / "random.pt", random.Random(2).randbytes(5000)),
     "not a readable checkpoint (the file is damaged or of another kind)"),
    ("text-file", lambda src, d: write_words(d / "names.pt", SMALL_WORDS), "not a readable checkpoint"),
    ("version-99", lambda src, d: _rewritten(src, d / "v99.pt", version=99),
     "checkpoint format version 99; this mlp-tui reads version 1"),
    ("other-format", lambda src, d: _rewritten(src, d / "fmt.pt", format="nanogpt"), "not an mlp-tui checkpoint"),
    ("a-tensor", lambda src, d: torch.save(torch.zeros(3), d / "tensor.pt") or d / "tensor.pt",
     "not an mlp-tui checkpoint"),
    ("absurd-model", lambda src, d: _rewritten(
        src, d / "huge.pt", model_config={"vocab_size": 27, "block_size": 256, "n_embd": 4096, "n_hidden": 100_000}),
     "damaged checkpoint (the model (vocabulary 27, context 256, embedding 4,096, hidden 100,000) would have"),
    ("out-of-range-model", lambda src, d: _rewritten(
        src, d / "huge.pt", model_config={"vocab_size": 27, "block_size": 3, "n_embd": 10, "n_hidden": 10**9}),
     "damaged checkpoint (n_hidden must be <= 100,000, got 1000000000)"),
    ("nan-lr", lambda src, d: _rewritten(src, d / "nanlr.pt", train_config={"lr": NAN}),
     "damaged checkpoint (lr must be a finite number, got nan)"),
]


@pytest.mark.parametrize("command", ["eval", "sample"])
@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in BAD_CHECKPOINTS], ids=[c[0] for c in BAD_CHECKPOINTS])
def test_bad_checkpoints_are_refused_in_one_line(capsys, tmp_path, checkpoint, command, make, fragment, monkeypatch):
    import core.runs.checkpoint

    path = make(checkpoint, tmp_path)
    before = fingerprint(path)
    real_mlp = core.runs.checkpoint.MLP

    def guarded_mlp(cfg, *a, **k):  # an absurd config must be refused before the model is built
        assert cfg.num_params() <= MAX_PARAMS, "built an absurd model before refusing it"
        return real_mlp(cfg, *a, **k)

    monkeypatch.setattr(core.runs.checkpoint, "MLP", guarded_mlp)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e, str(path), fragment)
    code, out, err = run_cli(capsys, [command, "--checkpoint", str(path)])
    assert_cli_error(code, err, str(path), fragment)
    assert out == ""
    assert fingerprint(path) == before


def test_a_plain_pickle_is_refused_in_one_line(capsys, tmp_path):
    path = tmp_path / "model.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "mlp-tui-checkpoint", "version": 1}, f, protocol=4)
    with warnings.catch_warnings(record=True) as caught:  # outside pytest, a warning is printed to stderr
        warnings.simplefilter("always")
        code, _, err = run_cli(capsys, ["eval", "--checkpoint", str(path)])
    assert_cli_error(code, err, str(path), "not a readable checkpoint")
    assert [str(w.message) for w in caught] == []


def test_a_fifo_checkpoint_is_refused_without_blocking(tmp_path):
    fifo = _fifo(tmp_path / "model.pt")
    result: dict[str, object] = {}

    def load():
        try:
            load_checkpoint(fifo)
        except CheckpointError as e:
            result["error"] = str(e)

    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(1.0)
    blocked = t.is_alive()
    for _ in range(50):  # unblock it: each open() of the FIFO for reading waits for a writer
        if not t.is_alive():
            break
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        t.join(0.1)
    assert not blocked, "load_checkpoint blocked on a FIFO"
    assert "is not a regular file" in str(result.get("error"))


def test_eval_on_data_with_another_vocabulary_is_refused(capsys, tmp_path, checkpoint):
    before = fingerprint(checkpoint)
    other = write_words(tmp_path / "other.txt", ["zoë", "josé", "ana", "chloé", "bo"] * 4)
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(checkpoint), "--data", str(other)])
    assert_cli_error(code, err, str(other), "has characters the model never saw: 'éë'")
    assert out == ""
    subset = write_words(tmp_path / "abc.txt", ["abc", "cab", "bca"] * 4)
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(checkpoint), "--data", str(subset)])
    assert_cli_error(code, err, str(subset), "has a different vocabulary from the model's (4 vs")
    assert out == ""
    assert fingerprint(checkpoint) == before


def test_eval_when_the_training_data_is_gone(capsys, tmp_path, trained_run):
    """The checkpoint names its data by absolute path; moved away, eval says which file is missing."""
    words, run = trained_run
    moved = tmp_path / "words.txt"
    moved.write_bytes(words.read_bytes())
    words.unlink()
    try:
        code, _, err = run_cli(capsys, ["eval", "--checkpoint", str(run)])
        assert_cli_error(code, err, str(words), "no such file")
    finally:
        words.write_bytes(moved.read_bytes())


# ---------------------------------------------------------------- nothing the user had is lost


def test_train_never_writes_over_the_users_files(capsys, tmp_path, trained_run, words_file):
    _, run = trained_run
    before = {p.name: fingerprint(p) for p in run.iterdir()}
    code, _, err = run_cli(capsys, train_argv(words_file, run, "--steps", "10"))
    assert_cli_error(code, err, "already holds a run", "nothing was overwritten")
    assert {p.name: fingerprint(p) for p in run.iterdir()} == before
    data_before = fingerprint(words_file)
    code, _, err = run_cli(capsys, train_argv(words_file, words_file, "--steps", "10"))  # --out is the data file
    assert_cli_error(code, err, str(words_file))
    assert fingerprint(words_file) == data_before


# ================================================================ boundaries (issue: no lost runs, no crash, no hang)
# Each class of defect is fixed where the data crosses: core.runs.files (reading, writing, printing), core.runs.lock,
# core.runs.folder (validated reading), core.runs.checkpoint (validated loading),
# core.probes.sample (sizes, temperatures).


def _run_files(run: Path) -> dict[str, tuple[bytes, int] | None]:
    return {f.name: fingerprint(f) for f in run.iterdir()}


@pytest.mark.parametrize("target", ["model.pt", "losses.f32", "run.json", "evals.jsonl", "samples.jsonl", "lock"])
def test_export_never_writes_over_a_file_of_the_run_it_reads(capsys, trained_run, target):
    _, run = trained_run
    before = _run_files(run)
    code, out, err = run_cli(capsys, ["export", str(run), "-o", str(run / target)])
    assert_cli_error(code, err, target, "of the run being read", "nothing was written")
    assert _run_files(run) == before
    load_checkpoint(run / "model.pt")  # still loads


def test_export_refuses_a_link_to_a_run_file_too(capsys, trained_run, tmp_path):
    _, run = trained_run
    before = _run_files(run)
    (tmp_path / "soft.csv").symlink_to(run / "model.pt")
    os.link(run / "losses.f32", tmp_path / "hard.csv")
    for name in ("soft.csv", "hard.csv"):
        code, _, err = run_cli(capsys, ["export", str(run), "-o", str(tmp_path / name)])
        assert_cli_error(code, err, "of the run being read")
    assert _run_files(run) == before


def test_export_replaces_a_file_only_when_the_new_one_is_whole(capsys, trained_run, tmp_path, monkeypatch):
    import core.runs.listing

    _, run = trained_run
    old = tmp_path / "losses.csv"
    old.write_text("what the user had\n")

    def half_then_fail(path, out):
        out.write("step,log10_loss\n1,0.5\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.runs.listing, "export_csv", half_then_fail)
    code, _, err = run_cli(capsys, ["export", str(run), "-o", str(old)])
    assert_cli_error(code, err, "No space left on device", "the old file is as it was")
    assert old.read_text() == "what the user had\n"
    assert [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")] == []
    monkeypatch.undo()
    code, _, err = run_cli(capsys, ["export", str(run), "-o", str(old)])
    assert code == 0 and len(old.read_text().splitlines()) == TRAINED_STEPS + 1  # header + one line a step


def test_export_writes_straight_to_a_device_or_pipe(trained_run, tmp_path):
    _, run = trained_run
    r = subprocess.run([*COMMAND, "export", str(run), "-o", "/dev/stdout"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("step,") and len(r.stdout.splitlines()) == TRAINED_STEPS + 1


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly_and_a_full_device_in_one_line(trained_run):
    _, run = trained_run
    cmd = " ".join(f"'{c}'" for c in COMMAND)
    r = subprocess.run(f"{cmd} export '{run}' | head -2", shell=True, capture_output=True, text=True, timeout=120)
    assert r.stdout.count("\n") == 2 and r.stderr == "", r.stderr
    p = subprocess.Popen([*COMMAND, "sample", "--checkpoint", str(run), "-n", "10000000", "--seed", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()  # `| head -1`
    _, err = p.communicate(timeout=60)
    assert first.strip() and err == b"", err
    if Path("/dev/full").exists():
        with open("/dev/full", "w") as full:
            r = subprocess.run([*COMMAND, "export", str(run)], stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=120)
        assert_cli_error(r.returncode, r.stderr, "cannot write the output", "No space left on device")


# ---------------------------------------------------------------- two processes, one run folder


HOLDER = """
import sys, time
from core.runs.lock import RunLock
lock = RunLock(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


def _hold_lock(run: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, env=env)
    assert p.stdout.readline().strip() == b"locked"
    return p


def test_a_run_being_trained_cannot_be_continued_by_another_process(capsys, run_copy, small_data, tmp_path):
    from core.runs.checkpoint import resume_trainer
    from core.runs.folder import RunError
    from core.runs.listing import list_runs
    from core.runs.lock import holder
    from core.runs.writer import RunWriter

    _, run = run_copy
    p = _hold_lock(run)
    try:
        assert holder(run) == p.pid
        ck = load_checkpoint(run / "model.pt")
        data = Dataset.load(ck.dataset, 3)
        with pytest.raises(RunError) as e:
            RunWriter(run, resume_trainer(ck, data), resume=True)
        assert_one_line(e, "being trained by another mlp-tui", f"pid {p.pid}")
        (r,) = [r for r in list_runs(run.parent) if r.path == run]
        assert r.live and r.pid == p.pid
        code, out, _ = run_cli(capsys, ["runs", "--runs-dir", str(run.parent)])
        rows = [x for x in out.splitlines()[2:] if x.split()[0] == run.name]
        assert len(rows) == 1 and rows[0].rstrip().endswith(f"training now (pid {p.pid})"), out
    finally:
        p.kill()
        p.wait()
    # kill -9 leaves no stale lock: the kernel released it with the process
    assert holder(run) is None
    w = RunWriter(run, resume_trainer(load_checkpoint(run / "model.pt"), data), resume=True)
    w.close()


def test_two_writers_in_one_process_are_refused_too(tmp_path, small_data):
    from core.runs.folder import RunError
    from core.runs.writer import RunWriter

    tr = small_trainer(small_data, steps=1000)
    tr.run(steps=50)
    a = RunWriter(tmp_path / "r", tr)
    a.open()
    with pytest.raises(RunError, match="being trained by another mlp-tui"):
        RunWriter(tmp_path / "r", tr, resume=True)
    a.close()


def test_the_app_worker_refuses_to_continue_a_locked_run_and_trains_on(trained_run, tmp_path):
    import queue

    from core.link.transport import _Worker

    _, run = trained_run
    out: queue.Queue = queue.Queue()
    w = _Worker(out)
    w.runs_dir = str(tmp_path / "runs")
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    w.reset(str(words), {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}, {"steps": 10**6})
    w.tick()
    mine = w.writer.path
    p = _hold_lock(run)
    try:
        w.load(str(run))
    finally:
        p.kill()
        p.wait()
    msgs = []
    while not out.empty():
        msgs.append(out.get_nowait())
    errors = [m.message for m in msgs if isinstance(m, P.Error)]
    assert any(f"being trained by another mlp-tui, pid {p.pid}" in e for e in errors), errors
    assert w.writer.path == mine and w.active  # the current run goes on as it was
    w.close_run()


def test_leftover_temp_files_are_ignored_and_cleared_on_resume(trained_run, tmp_path, capsys):
    import shutil

    from core.runs.checkpoint import resume_trainer
    from core.runs.listing import list_runs
    from core.runs.writer import RunWriter

    _, src = trained_run
    run = tmp_path / "runs" / "copy"
    shutil.copytree(src, run)
    (run / ".model.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    (run.parent / ".model.pt.xyz.tmp").write_bytes(b"x")
    (r,) = list_runs(run.parent)
    assert r.path == run and not r.error
    ck = load_checkpoint(run / "model.pt")
    w = RunWriter(run, resume_trainer(ck, Dataset.load(ck.dataset, 3)), resume=True)
    assert not (run / ".model.pt.abc123.tmp").exists()
    w.close()


# ---------------------------------------------------------------- sizes the user asks for


def test_sampling_streams_in_batches_of_bounded_memory(trained_run, monkeypatch):
    import core.probes.sample
    from core.probes.sample import batch_rows, row_bytes, sample_batches

    _, run = trained_run
    ck = load_checkpoint(run / "model.pt")
    monkeypatch.setattr(core.probes.sample, "BATCH_BYTES", 100 * row_bytes(ck.model))
    batches = list(sample_batches(ck.model, ck.vocab, 1234, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [100] * 12 + [34]
    assert batch_rows(ck.model) == 100
    with pytest.raises(ConfigError) as e:  # all at once: refused before allocating, with the size
        sample(ck.model, ck.vocab, 10**9)
    assert_one_line(e, "1,000,000,000 samples at once would need", "GiB")


@pytest.mark.slow
def test_sample_ten_million_streams_without_growing(trained_run):
    """The repro: `sample -n 10000000` grew to 23.5 GB and printed nothing for 300 s."""
    _, run = trained_run
    p = subprocess.Popen([*COMMAND, "sample", "--checkpoint", str(run), "-n", "10000000", "--seed", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    lines = [p.stdout.readline() for _ in range(20_000)]  # the first batches arrive at once
    first_seconds = time.monotonic() - t0
    rss = _rss_mib(p.pid)
    p.kill()
    p.wait()
    assert all(x.endswith(b"\n") for x in lines) and first_seconds < 60  # (a name can be empty)
    assert rss < 1024, f"{rss} MiB"


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- numeric edge cases


@pytest.mark.parametrize("t", ["1e-300", "0", "5e-324"])
def test_a_near_zero_temperature_samples_greedily(capsys, trained_run, t):
    _, run = trained_run
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "-n", "5", "--temperature", t])
    assert code == 0, err
    assert len(set(out.split())) == 1  # greedy: the same word five times


@pytest.mark.parametrize(("flag", "value", "fragment"), [
    ("--dropout", "0.999", "must be <= 0.9"), ("--dropout", "0.95", "must be <= 0.9"),
    ("--block-size", "300", "must be <= 256"), ("--lr", "1e300", "must be <= 1,000"),
    ("--weight-decay", "100", "must be <= 10"), ("--lr-decay", "1e9", "must be <= 100"),
])
def test_flags_and_fields_refuse_the_same_values(capsys, tmp_path, flag, value, fragment):
    from tui.panes.fields import BY_KEY, parse

    code, _, err = run_cli(capsys, train_argv("names", tmp_path / "run", flag, value))
    assert_cli_error(code, err, flag, fragment)
    key = flag[2:].replace("-", "_")
    assert parse(BY_KEY[key], value)[1] == fragment


def test_every_number_field_and_flag_agree_on_its_range():
    """For each number setting: its lowest and highest values pass both, just beyond them fails both."""
    from tui.cli import _setting
    from tui.panes.fields import BY_KEY, parse

    for f in BY_KEY.values():
        if f.kind not in ("int", "float"):
            continue
        lo, hi, lo_open = f.lo, f.hi, f.lo_open
        step = 1 if f.kind == "int" else 1e-9 * max(1, abs(hi))
        for v, ok in ((lo, not lo_open), (hi, True), (hi + step, False), (lo - step, False)):
            text = str(int(v)) if f.kind == "int" else repr(float(v))
            field_ok = parse(f, text)[1] is None
            try:
                _setting(f.key)(text)
                flag_ok = True
            except Exception:
                flag_ok = False
            assert field_ok == flag_ok == ok, (f.key, text)


def test_heavy_dropout_divergence_blames_dropout_not_the_lr(small_data):
    tr = small_trainer(small_data, dropout=0.9, lr=1000, steps=5000, init="lecture")
    tr.run()
    if tr.snapshot().state == "diverged":
        assert "lower dropout" in tr.snapshot().message and "learning rate" not in tr.snapshot().message


# ---------------------------------------------------------------- damaged run folders


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("lock"))
    return dst


def _patch_info(run: Path, **fields) -> None:
    info = json.loads((run / "run.json").read_text())
    info.update(fields)
    (run / "run.json").write_text(json.dumps(info))


BAD_INFOS = [
    ("step-1e999", lambda r: (r / "run.json").write_text((r / "run.json").read_text().replace(
        f'"step": {TRAINED_STEPS}', '"step": 1e999')), "step is inf"),
    ("step-bool", lambda r: _patch_info(r, step=True), "step is True"),
    ("step-huge", lambda r: _patch_info(r, step=10**400), "step is"),
    ("step-string", lambda r: _patch_info(r, step="200"), "step is '200'"),
    ("loss-text", lambda r: _patch_info(r, best_dev_loss="low"), "best_dev_loss is 'low'"),
    ("escape-in-dataset", lambda r: _patch_info(r, dataset="\x1b]2;PWNED\x07"), "dataset is"),
    ("status-unknown", lambda r: _patch_info(r, status="rm -rf"), "status is"),
    ("hidden-out-of-range", lambda r: _patch_info(r, model={"n_hidden": -5}), "model settings"),
    ("not-a-dict", lambda r: (r / "run.json").write_text("[1, 2]"), "of another kind"),
    ("deep-json", lambda r: (r / "run.json").write_text("[" * 100_000 + "]" * 100_000), "not readable JSON"),
    ("fifo", lambda r: ((r / "run.json").unlink(), os.mkfifo(r / "run.json")), "not a regular file"),
    ("folder", lambda r: ((r / "run.json").unlink(), (r / "run.json").mkdir()), "run.json is not a regular file"),
    ("huge", lambda r: (r / "run.json").write_bytes(b" " * (2 << 20)), "more than the 1.0 MiB"),
]


@pytest.mark.parametrize(("make", "fragment"), [b[1:] for b in BAD_INFOS], ids=[b[0] for b in BAD_INFOS])
def test_a_damaged_run_json_is_listed_as_damaged_and_the_others_still_list(capsys, trained_run, tmp_path, make,
                                                                           fragment):
    from core.runs.folder import RunError, read_info
    from core.runs.listing import list_runs

    _, src = trained_run
    root = tmp_path / "runs"
    _copy_run(src, root / "good")
    bad = _copy_run(src, root / "bad")
    make(bad)
    with pytest.raises(RunError) as e:
        read_info(bad)
    assert_one_line(e, fragment)
    assert "\x1b" not in str(e.value)
    runs = {r.path.name: r for r in list_runs(root)}
    assert runs["good"].step == TRAINED_STEPS and not runs["good"].error
    assert runs["bad"].status == "damaged" and fragment in runs["bad"].error
    code, out, err = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    assert code == 0 and "Traceback" not in err and "\x1b" not in out
    assert "damaged:" in next(x for x in out.splitlines() if x.startswith("bad"))
    assert any(x.startswith("good") and str(TRAINED_STEPS) in x for x in out.splitlines())


def test_damaged_history_lines_are_skipped_not_fatal(capsys, trained_run, tmp_path):
    from core.runs.folder import read_evals, read_samples

    _, src = trained_run
    run = _copy_run(src, tmp_path / "r")
    with open(run / "evals.jsonl", "a") as f:
        f.write('{"step": 1e999, "dev": 1}\n{"step": 5, "dev": "x"}\n{"step": 6, "dev": 1e999}\n[1]\n')
    with open(run / "samples.jsonl", "a") as f:
        f.write('{"step": 7, "names": ["ok", "\\u001b[31mred"]}\n{"step": 8, "names": "abc"}\n')
    assert all(isinstance(e["step"], int) for e in read_evals(run))
    assert not any(e["step"] in (5, 6) for e in read_evals(run))
    assert not any(s["step"] in (7, 8) for s in read_samples(run))
    (run / "losses.f32").write_bytes(array_of([1e38, -1e38, float("nan"), 0.5]))
    code, out, err = run_cli(capsys, ["export", str(run)])  # 10 ** 1e38 raised OverflowError
    assert code == 0, err
    assert out.splitlines()[1].split(",")[2] == "inf"


def array_of(values: list[float]) -> bytes:
    import array

    return array.array("f", values).tobytes()


# ---------------------------------------------------------------- damaged checkpoint fields


def _ckpt_with(src: Path, dst: Path, change) -> Path:
    ck = torch.load(src, map_location="cpu", weights_only=True)
    change(ck)
    torch.save(ck, dst)
    return dst


BAD_FIELDS = [
    ("nan-weights", lambda ck: ck["model"]["W1"].fill_(float("nan")), "weights: W1 holds NaN or infinite values"),
    ("inf-bias", lambda ck: ck["model"]["b2"].__setitem__(0, float("inf")), "weights: b2 holds NaN"),
    ("wrong-shape", lambda ck: ck["model"].__setitem__("W1", torch.zeros(30, 7)),
     "weights: W1 has shape 30x7, the model's settings need 30x16"),
    ("missing", lambda ck: ck["model"].pop("W2"), "weights: no W2"),
    ("int-tensor", lambda ck: ck["model"].__setitem__("b1", torch.zeros(16, dtype=torch.long)), "b1 is not a float"),
    ("escape-vocab", lambda ck: ck.__setitem__("vocab", [".", "\x1b", *ck["vocab"][2:]]), "control characters"),
    ("long-vocab-entry", lambda ck: ck.__setitem__("vocab", [".", "\x1b]2;PWNED\x07\x1b[31m", *ck["vocab"][2:]]),
     "distinct characters"),
    ("no-boundary", lambda ck: ck.__setitem__("vocab", ["@", *ck["vocab"][1:]]), "boundary token"),
    ("step-float", lambda ck: ck.__setitem__("step", 1e999), "a step or seed is inf"),
    ("dataset-escape", lambda ck: ck.__setitem__("dataset", "\x1b[2J"), "dataset's name has control characters"),
    ("nan-best", lambda ck: ck.__setitem__("best_dev_loss", float("nan")), "best_dev_loss is nan"),
]


@pytest.mark.parametrize("command", ["sample", "eval"])
@pytest.mark.parametrize(("change", "fragment"), [b[1:] for b in BAD_FIELDS], ids=[b[0] for b in BAD_FIELDS])
def test_damaged_checkpoint_fields_are_refused_by_name(capsys, checkpoint, tmp_path, command, change, fragment):
    path = _ckpt_with(checkpoint, tmp_path / "bad.pt", change)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e, "damaged checkpoint", fragment)
    code, out, err = run_cli(capsys, [command, "--checkpoint", str(path)])
    assert_cli_error(code, err, fragment)
    assert out == "" and "\x1b" not in err and "\x07" not in err


def test_nothing_printed_from_a_file_can_drive_the_terminal(capsys, trained_run, tmp_path):
    """Run folder names and paths are printed escaped (the data loader already refuses control characters)."""
    from core.runs.files import safe_text

    _, src = trained_run
    root = tmp_path / "runs"
    _copy_run(src, root / "evil\x1b]2;PWNED\x07")
    code, out, err = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    assert code == 0 and "\x1b" not in out + err and "\x07" not in out + err
    assert "evil\\x1b]2;PWNED\\x07" in out
    assert safe_text("a\u202eb") == "a\\u202eb"  # a right-to-left override would reorder the line


# ---------------------------------------------------------------- the CLI on a full disk


def test_train_on_a_full_disk_trains_on_and_rescues_the_weights(capsys, tmp_path, monkeypatch, words_file):
    """ENOSPC on the run folder from the first losses written: the run trains to its end, the weights go to the
    temp folder with a message that says where, and run.json says "unsaved" and where they went."""
    import errno

    import core.runs.checkpoint
    import core.runs.folder
    import core.runs.writer

    run = tmp_path / "run"
    real_write, real_save = core.runs.writer.RunWriter._write, core.runs.checkpoint.save_checkpoint

    def full_write(self, f, data):
        raise core.runs.folder.RunError(f"{self.path}: cannot save the run (No space left on device)")

    def full_save(trainer, path, **kw):
        if Path(path).parent == run:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(trainer, path, **kw)

    monkeypatch.setattr(core.runs.writer.RunWriter, "_write", full_write)
    monkeypatch.setattr(core.runs.checkpoint, "save_checkpoint", full_save)
    monkeypatch.setattr(tempfile_module(), "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    code, out, err = run_cli(capsys, train_argv(words_file, run, "--steps", "500", "--hidden", "16"))
    assert code == 1, err
    assert "Traceback" not in err
    rescued = list((tmp_path / "tmp").glob("mlp-tui-run-step500.pt"))
    assert len(rescued) == 1
    assert f"the weights were saved to {rescued[0]} instead" in err
    assert load_checkpoint(rescued[0]).step == 500
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "unsaved" and info["rescued_to"] == str(rescued[0]) and info["step"] == 500
    del real_write


def tempfile_module():
    import tempfile

    return tempfile


# ---------------------------------------------------------------- duplicate words


def test_duplicate_lines_split_like_the_lecture_unless_dedupe(tmp_path, capsys):
    words = write_words(tmp_path / "dups.txt", ["anna"] * 1000 + SMALL_WORDS)
    plain = Dataset.load(words, 3)
    assert "anna" in plain.split_words["dev"] and "anna" in plain.split_words["train"]  # the lecture's way
    d = Dataset.load(words, 3, dedupe=True)
    assert len(d.words) == len(set(SMALL_WORDS) | {"anna"}) and d.lines == 1060
    assert not set(d.split_words["dev"]) & set(d.split_words["train"])
    from core.probes.inspection import dataset_stats

    st = dataset_stats(plain)
    assert st["duplicate_lines"] == 999 and st["dev_in_train"] > 0
    assert dataset_stats(d)["dev_in_train"] == 0 and dataset_stats(d)["duplicate_lines"] == 999
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, train_argv(words, out, "--steps", "100", "--hidden", "16", "--dedupe"))
    assert code == 0, err
    assert json.loads((out / "run.json").read_text())["dedupe"] is True
    ck = load_checkpoint(out / "model.pt")
    assert ck.dedupe is True
    code, js, _ = run_cli(capsys, ["eval", "--checkpoint", str(out)])
    report = json.loads(js)
    assert report["dedupe"] is True and report["dev_loss"] > 0.5  # anna is not a free dev word any more
    code, marked, _ = run_cli(capsys, ["sample", "--checkpoint", str(out), "-n", "50", "--seed", "0", "--mark"])
    train_set = set(d.split_words["train"])
    for line in marked.splitlines():
        name = line.removesuffix(" *")
        assert line.endswith(" *") == (name in train_set)


def test_builtin_names_have_duplicates_the_dataset_view_counts():
    from core.probes.inspection import dataset_stats

    st = dataset_stats(Dataset.load("names", 3))
    assert st["lines"] == 32_469 and st["unique_words"] == 29_910 and st["duplicate_lines"] == 2_559


# ---------------------------------------------------------------- empty runs


def test_a_run_that_never_trains_leaves_no_folder(tmp_path, small_data):
    import queue

    from core.link.transport import _Worker

    w = _Worker(queue.Queue())
    w.runs_dir = str(tmp_path / "runs")
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    model = {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}
    for _ in range(3):  # r, y, r, y, r, y on a paused model
        w.reset(str(words), model, {"steps": 10**6}, paused=True)
    w.handle(P.Save())
    w.close_run()
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
    w.reset(str(words), model, {"steps": 10**6})
    w.tick()
    w.close_run()
    assert len(list((tmp_path / "runs").iterdir())) == 1  # one that trained is kept


def test_a_failing_command_does_not_end_the_training_process(tmp_path, monkeypatch):
    import queue

    from core.link.transport import _Worker

    out: queue.Queue = queue.Queue()
    w = _Worker(out)
    w.runs_dir = str(tmp_path / "runs")
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    w.reset(str(words), {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}, {"steps": 10**6})
    monkeypatch.setattr(w, "lr_find", lambda **_: 1 / 0)
    assert w.handle_safely(P.FindLR()) is True
    msgs = []
    while not out.empty():
        msgs.append(out.get_nowait())
    assert any(isinstance(m, P.Error) and "ZeroDivisionError" in m.message for m in msgs)
    assert w.trainer is not None and not w.active  # paused, waiting for the user; not crashed, not looping
    w.close_run()


def test_a_burst_of_score_requests_is_handled_once():
    from core.link.transport import coalesce

    cmds = [P.Score("a" * i) for i in range(1, 2001)] + [P.Pause()] + [P.View(1)] * 3
    kept = coalesce(cmds)
    assert kept == [P.Score("a" * 2000), P.Pause(), P.View(1)]


def test_messages_are_dispatched_by_type_and_an_unknown_one_raises_in_tests():
    import queue

    from core.link.transport import _Worker

    w = _Worker(queue.Queue())

    class Bogus:
        pass

    with pytest.raises(TypeError, match="no handler for Bogus"):
        w.handle(Bogus())
    assert w.handle(P.Temperature(0.5)) is True and w.temperature == 0.5


# ---------------------------------------------------------------- found by a hostile pass over the first fixes


def test_continuing_a_run_never_writes_through_a_symlinked_run_file(trained_run, tmp_path):
    import queue

    from core.link.transport import _Worker

    _, src = trained_run
    victim = tmp_path / "victim.txt"
    victim.write_text("IMPORTANT " * 1000)
    run = _copy_run(src, tmp_path / "evil")
    (run / "losses.f32").unlink()
    (run / "losses.f32").symlink_to(victim)
    out: queue.Queue = queue.Queue()
    w = _Worker(out)
    w.load(str(run))
    msgs = [out.get_nowait() for _ in range(out.qsize())]
    assert any(isinstance(m, P.Error) and "is a link or a pipe" in m.message for m in msgs), msgs
    assert victim.read_text() == "IMPORTANT " * 1000


def test_train_out_refuses_a_folder_with_files_a_run_would_write(capsys, tmp_path, words_file):
    out = tmp_path / "u"
    out.mkdir()
    (out / "metrics.json").write_text("USER\n")
    code, _, err = run_cli(capsys, train_argv(words_file, out, "--steps", "10"))
    assert_cli_error(code, err, "already holds files a run would write (metrics.json)")
    assert (out / "metrics.json").read_text() == "USER\n"


@pytest.mark.slow
def test_a_closed_stderr_pipe_does_not_lose_the_run(tmp_path, words_file):
    out = tmp_path / "p"
    cmd = " ".join(f"'{c}'" for c in COMMAND)
    r = subprocess.run(f"{cmd} train --data '{words_file}' --steps 20000 --n-hidden 16 --out '{out}' 2>&1 | head -c 1",
                       shell=True, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "done" and info["step"] == 20000 and (out / "metrics.json").exists()


def test_export_refuses_a_stdout_that_is_a_file_of_the_run(trained_run, tmp_path):
    _, src = trained_run
    run = _copy_run(src, tmp_path / "r")
    before = (run / "losses.f32").read_bytes()
    with open(run / "losses.f32", "a") as f:
        r = subprocess.run([*COMMAND, "export", str(run)], stdout=f, stderr=subprocess.PIPE, text=True, timeout=60)
    assert_cli_error(r.returncode, r.stderr, "stdout is losses.f32 of the run being read")
    assert (run / "losses.f32").read_bytes() == before


def test_a_fifo_for_the_loss_file_does_not_hang_export_or_a_load(capsys, trained_run, tmp_path):
    import queue

    from core.link.transport import _Worker

    _, src = trained_run
    run = _copy_run(src, tmp_path / "f")
    (run / "losses.f32").unlink()
    os.mkfifo(run / "losses.f32")
    code, _, err = run_cli(capsys, ["export", str(run)])
    assert_cli_error(code, err, "losses.f32 is not a regular file")
    out: queue.Queue = queue.Queue()
    _Worker(out).load(str(run))  # returns: refused, not blocked on the FIFO
    assert any(isinstance(m, P.Error) for m in [out.get_nowait() for _ in range(out.qsize())])


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda ck: ck["model"].__setitem__("W2", ck["model"]["W2"].to_sparse()), "W2 is not a dense CPU tensor"),
    (lambda ck: ck["vocab"].__setitem__(5, "\ud800"), "control characters"),
])
def test_odd_tensors_characters_and_generator_states_are_refused(capsys, checkpoint, tmp_path, change, fragment):
    path = _ckpt_with(checkpoint, tmp_path / "bad.pt", change)
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(path)])
    assert_cli_error(code, err, fragment)


def test_a_5000_digit_number_is_a_damaged_line_not_a_traceback(capsys, trained_run, tmp_path):
    from core.runs.folder import RunError, read_evals, read_info

    _, src = trained_run
    run = _copy_run(src, tmp_path / "h")
    with open(run / "evals.jsonl", "a") as f:
        f.write('{"step": 1' + "0" * 5000 + "}\n")
    assert all(e["step"] < 10**6 for e in read_evals(run))
    _patch_info(run, step=0)
    (run / "run.json").write_text((run / "run.json").read_text().replace('"step": 0', '"step": 1' + "0" * 5000))
    with pytest.raises(RunError, match="not readable JSON"):
        read_info(run)


@pytest.mark.slow
def test_sample_seed_and_prefix_are_bounded_and_a_closed_stdout_is_fine(capsys, trained_run):
    _, run = trained_run
    code, _, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "--seed", str(2**64)])
    assert_cli_error(code, err, "--seed")
    code, _, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "--prefix", "a" * 201])
    assert_cli_error(code, err, "--prefix", "at most 200 characters")
    r = subprocess.run(f"'{COMMAND[0]}' sample --checkpoint '{run}' -n 3 >&-" if len(COMMAND) == 1 else "true",
                       shell=True, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in r.stderr


def test_a_generator_position_past_its_pool_is_refused_on_resume(checkpoint, tmp_path, trained_run):
    from core.runs.checkpoint import resume_trainer

    words, _ = trained_run
    path = _ckpt_with(checkpoint, tmp_path / "bad.pt", lambda ck: ck["optimizer"]["rng"].__setitem__("pos", 10**6))
    ck = load_checkpoint(path)
    with pytest.raises(CheckpointError) as e:
        resume_trainer(ck, Dataset.load(words, 3))
    assert_one_line(e, "batch generator state", "past the")


@pytest.mark.parametrize("masks", [torch.zeros(7, dtype=torch.uint8), "abc", torch.zeros(5056)],
                         ids=["short", "string", "float"])
def test_a_damaged_dropout_mask_state_is_refused_by_name(checkpoint, tmp_path, trained_run, masks):
    from core.runs.checkpoint import resume_trainer

    words, _ = trained_run
    path = _ckpt_with(checkpoint, tmp_path / "bad.pt", lambda ck: ck["optimizer"]["rng"].__setitem__("masks", masks))
    with pytest.raises(CheckpointError) as e:
        resume_trainer(load_checkpoint(path), Dataset.load(words, 3))
    assert_one_line(e, "damaged checkpoint (dropout mask generator state:")

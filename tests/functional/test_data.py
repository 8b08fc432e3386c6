"""Hostile data files through the command line and in fresh processes: every unusable file is refused in one
line before a run folder is made; odd but usable ones (emoji, two words, duplicates, 2 million lines, a batch
or a context larger than the data) train and sample. The loaders themselves: tests/unit/test_data.py."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import pytest
import torch
from conftest import SMALL_WORDS, assert_cli_error, assert_one_line, run_cli, small_trainer, write_words
from helpers import ROOT, fingerprint, strict_json, train_argv
from unit.test_data import BAD_FILES

from core.data import Dataset
from core.errors import DataError
from core.probes.sample import sample
from core.runs.checkpoint import load_checkpoint


@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_unusable_data_file_on_the_command_line(capsys, tmp_path, make, fragment):
    path = make(tmp_path)
    before = fingerprint(path)
    code, out, err = run_cli(capsys, train_argv(path, tmp_path / "run", "--steps", "10"))
    assert_cli_error(code, err, str(path), fragment)
    assert out == ""
    assert not (tmp_path / "run").exists()  # refused before a run folder was made
    assert fingerprint(path) == before


def test_a_checkpoint_given_as_data_is_binary(capsys, tmp_path, checkpoint):
    code, _, err = run_cli(capsys, train_argv(checkpoint, tmp_path / "run", "--steps", "10"))
    assert_cli_error(code, err, str(checkpoint), "binary")


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
    assert tr.best_dev == math.inf and tr.best_dev_step == -1 and tr.snapshot().status == "done"
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, train_argv(path, run, "--steps", "50", "--keep-best"))
    assert code == 0 and "Traceback" not in err
    assert "dev nan" in err
    metrics = strict_json((run / "metrics.json").read_text())
    assert metrics["steps"] == 50 and metrics["dev_loss"] is None and metrics["best_dev_loss"] is None
    assert metrics["kept"] == "last" and math.isfinite(metrics["train_loss"])
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(run)])
    assert code == 0 and strict_json(out)["dev_loss"] is None


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
    assert tr.step == 200 and tr.snapshot().status == "done"
    assert tr.evaluate()["train"] < first  # it memorises the one word
    code, _, err = run_cli(capsys, train_argv(path, tmp_path / "run", "--batch-size", "4096", "--steps", "20"))
    assert code == 0, err
    readme = (ROOT / "README.md").read_text()
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

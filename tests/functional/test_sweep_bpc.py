"""A sweep across kinds of token on running text ranks its trials by dev bits per character (core.sweeps.objective):
the value each trial reports is its run's best dev loss over ln 2 over the dev split's characters per token, the
leaderboard is in that order, and `sweep show`, `sweep export` and a trial's line say "dev bpc"."""

from __future__ import annotations

import csv
import io
import math
import signal
from pathlib import Path

import pytest
from conftest import run_cli
from textdata import tiny_text

from core import settings
from core.runs.folder import read_info
from core.sweeps.study import Budget, create_study, leaderboard, load_study, parse_space
from core.sweeps.workers import WorkerJob, worker_main
from tui.subcommands.sweep_report import trial_line

KINDS = ("chars", "words", "bpe")


def test_the_space_takes_the_kinds_of_token():
    space = parse_space("tokens=chars|words,block_size=2:4")
    assert space["tokens"].choices == ("chars", "words") and space["block_size"].hi == 4
    assert parse_space("tokens")["tokens"].choices == settings.BY_NAME["tokens"].choices  # every kind by default


@pytest.mark.slow
def test_a_sweep_across_token_kinds_ranks_by_dev_bits_per_character(capsys, tmp_path, monkeypatch):
    pytest.importorskip("tokenizers")  # the bpe extra (in the test extras)
    text = tiny_text(tmp_path)
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = create_study("k", url, seed=0)
    for kind in KINDS:  # three trials, one of each kind
        study.enqueue_trial({"tokens": kind})
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    base = {**settings.DEFAULTS, "data": str(text), "format": "text", "min_count": 2, "n_hidden": 16,
            "optimizer": "adamw", "lr": 0.01, "bpe_vocab": 300}
    base.pop("tokens")
    job = WorkerJob("k", url, base, parse_space("tokens=chars|words|bpe"), Budget(steps=150), 3, None,
                    str(tmp_path / "runs"))
    worker_main(job)
    trials = [t for t in load_study("k", url).get_trials() if t.state.name == "COMPLETE"]
    assert sorted(t.params["tokens"] for t in trials) == sorted(KINDS)
    for t in trials:
        info = read_info(Path(t.user_attrs["run"]))
        ratio = info["chars_per_token"]["dev"]  # run.json's characters per token of the dev split
        assert (ratio == pytest.approx(1.0)) == (t.params["tokens"] == "chars")  # a word is several characters
        assert ratio > {"chars": 0.99, "bpe": 1.2, "words": 2}[t.params["tokens"]]  # bpe: merged bytes
        assert t.value == pytest.approx(info["best_dev_loss"] / math.log(2) / ratio)  # the value is dev bpc
        assert t.user_attrs["objective"] == "bpc" and t.user_attrs["chars_per_token"] == pytest.approx(ratio)
        assert trial_line(t).split()[2:4] == ["complete", "dev"] and "bpc" in trial_line(t)
    board = leaderboard(trials)
    assert [t.value for t in board] == sorted(t.value for t in trials)  # ranked by bits per character

    code, out, err = run_cli(capsys, ["sweep", "show", "k", "--storage", url])
    assert code == 0, err
    best = board[0]
    assert f"best: trial {best.number}, dev bpc {best.value:.4f}" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("trial"))
    assert header.split()[:4] == ["trial", "dev", "bpc", "dev"]  # "dev bpc", then "dev ppl"
    ppl = math.exp(read_info(Path(best.user_attrs["run"]))["best_dev_loss"])  # perplexity per token, from the loss
    row = next(line for line in out.splitlines() if line.split()[:1] == [str(best.number)])
    assert abs(float(row.split()[2].replace(",", "")) - ppl) / ppl < 0.01
    code, out, _ = run_cli(capsys, ["sweep", "export", "k", "--storage", url])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["objective"] for r in rows} == {"bpc"}

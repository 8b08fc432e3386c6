"""`mlp-tui ngram` and the counts row in the app (the counting itself: tests/unit/test_ngram.py)."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_cli
from textdata import tiny_text

from core.probes.ngram import count_model


def test_the_ngram_command_prints_json(capsys):
    code, out, _ = run_cli(capsys, ["ngram", "--data", "names", "--order", "3", "--k", "0.1"])
    d = json.loads(out)
    assert code == 0 and d["order"] == 3 and d["k"] == 0.1 and d["table_entries"] == 27**3
    assert set(d["losses"]) == {"train", "dev", "test"} and 0 <= d["unseen_dev_share"] <= 1


@pytest.mark.slow
async def test_the_split_pane_shows_the_counts_and_the_initial_loss(harness) -> None:
    from apphelpers import running, until, words_of

    app = harness.app(hidden=32)
    async with app.run_test(size=(130, 40)) as pilot:
        await running(pilot, harness)
        await until(pilot, lambda: "counts" in words_of(app, "#splits") and "initial loss" in words_of(app, "#splits"),
                    what="the counts row")
        text = words_of(app, "#splits")
        m = count_model(harness.trainer.data)
        assert f"{m.losses['dev']:.4f}" in text and f"{m.order}-gram" in text
        assert f"a uniform guess is {math.log(27):.2f}" in text


def test_ngram_words_prints_kneser_ney_per_split(capsys, tmp_path):
    import numpy as np

    from core.data import Dataset
    from core.probes import kneser_ney
    from core.tokens import TextOptions

    path = tiny_text(tmp_path)
    code, out, err = run_cli(capsys, ["ngram", "--data", str(path), "--format", "text", "--tokens", "words",
                                      "--order", "3", "--min-count", "4"])
    assert code == 0, err
    d = json.loads(out)
    assert d["order"] == 3 and d["vocab_size"] == 2 + 4 + 3 + 2 and d["build_seconds"] >= 0  # </s> <unk> words
    data = Dataset.load(str(path), 2, options=TextOptions("text", "words", 4))
    model = kneser_ney.build(data.Y["train"].numpy(), len(data.vocab), 3)
    dev = data.Y["dev"].numpy()
    want = model.perplexity(np.concatenate([[0, 0], dev]), start=2)  # the dev stream after two line ends
    m = d["measures"]["dev"]
    assert m["perplexity"] == pytest.approx(want, rel=1e-9) and 1 < m["perplexity"] < 11
    bits = math.log(want) * len(dev) / math.log(2)
    assert m["bpc"] == pytest.approx(bits / data.chars["dev"], rel=1e-9)
    assert d["measures"]["train"]["unk_rate"] == pytest.approx(1 / len(data.Y["train"]))
    assert "lower bound" in d["bpc_note"] and set(d["measures"]) == {"train", "dev", "test"}


def test_ngram_words_refusals(capsys, tmp_path):
    from conftest import assert_cli_error

    path = str(tiny_text(tmp_path))
    words = ["ngram", "--data", path, "--tokens", "words"]
    assert_cli_error(*run_cli(capsys, [*words, "--format", "text", "--order", "6"])[::2], "from 2 to 5", "6")
    assert_cli_error(*run_cli(capsys, [*words, "--format", "text", "--order", "1"])[::2], "--order")
    assert_cli_error(*run_cli(capsys, [*words, "--order", "3"])[::2], "--format text")
    assert_cli_error(*run_cli(capsys, [*words, "--format", "text", "--k", "1"])[::2], "--k")


def test_ngram_chars_of_running_text_keep_add_k(capsys, tmp_path):
    code, out, _ = run_cli(capsys, ["ngram", "--data", str(tiny_text(tmp_path)), "--format", "text", "--order", "3"])
    d = json.loads(out)
    assert code == 0 and d["order"] == 3 and "k" in d and d["losses"]["dev"] < math.log(d["table_entries"] ** (1 / 3))


@pytest.mark.slow  # trains a tiny word model (a few seconds under load)
def test_eval_of_a_word_model_gives_kneser_ney_and_the_mixture(capsys, tmp_path):
    run = tmp_path / "run"
    path = str(tiny_text(tmp_path))
    code, _, err = run_cli(capsys, ["train", "--data", path, "--format", "text", "--tokens", "words", "--block-size",
                                    "2", "--n-embd", "8", "--n-hidden", "16", "--steps", "300", "--out", str(run)])
    assert code == 0, err
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(run)])
    assert code == 0, err
    d = json.loads(out)
    kn, mix = d["kneser_ney"], d["mixture"]
    assert kn["order"] == 3 and set(kn["measures"]) == {"train", "dev", "test"} and "lower bound" in kn["bpc_note"]
    assert 0 <= mix["weight"] <= 1
    assert mix["ngram_perplexity"]["dev"] == pytest.approx(kn["measures"]["dev"]["perplexity"])
    assert mix["mlp_perplexity"]["dev"] == pytest.approx(d["measures"]["dev"]["perplexity"], rel=1e-5)
    assert mix["perplexity"]["dev"] <= min(mix["mlp_perplexity"]["dev"], mix["ngram_perplexity"]["dev"]) + 1e-9
    assert set(mix["perplexity"]) == {"dev", "test"} and mix["bpc"]["dev"] > 0


def test_eval_of_a_character_model_has_no_kneser_ney(capsys, trained_run):
    code, out, _ = run_cli(capsys, ["eval", "--checkpoint", str(trained_run[1])])
    assert code == 0 and "kneser_ney" not in json.loads(out) and "mixture" not in json.loads(out)

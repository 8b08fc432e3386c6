"""core.probes.knbaseline: Kneser-Ney of a dataset's train stream, scored as the MLP's contexts are, and the mixture;
tui.panes.baseline: what the split pane says of them."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from textdata import tiny_text

from core.data import Dataset
from core.probes import knbaseline, kneser_ney
from core.probes.mixture import fit_mixture
from core.tokens import TextOptions
from tui.panes import baseline


def words(tmp_path, block_size=2):
    return Dataset.load(str(tiny_text(tmp_path)), block_size, options=TextOptions("text", "words", 4))


def test_the_matching_order_is_the_context_plus_one_up_to_five():
    assert [knbaseline.matching_order(b) for b in (1, 2, 3, 4, 8)] == [2, 3, 4, 5, 5]


def test_the_baseline_scores_each_split_after_line_ends_as_the_mlp_sees_it(tmp_path):
    data = words(tmp_path)
    b = knbaseline.build_baseline(data, 3)
    model = kneser_ney.build(data.Y["train"].numpy(), len(data.vocab), 3)
    for s in ("dev", "test"):
        y = data.Y[s].numpy()
        rows = zip(data.X[s].tolist(), y)  # the MLP's (context, target) rows
        lp = np.log([model.distribution(np.asarray(x))[t] for x, t in rows])  # (n,)
        assert b.losses[s] == pytest.approx(-lp.mean(), rel=1e-9)
        assert np.allclose(b.probs[s], np.exp(lp))
        assert b.measures[s]["perplexity"] == pytest.approx(math.exp(b.losses[s]))
        assert b.measures[s]["bpc"] == pytest.approx(b.losses[s] * len(y) / math.log(2) / data.chars[s])
        assert b.measures[s]["unk_rate"] == data.unk[s] / len(y)
    assert b.tokens == len(data.Y["train"]) and b.nbytes > 0 and knbaseline.applies(data)


def test_the_mixture_takes_the_weight_fitted_on_dev_to_test(tmp_path):
    data = words(tmp_path)
    b = knbaseline.build_baseline(data, 3)
    flat = {s: np.full(len(b.probs[s]), 1 / len(data.vocab)) for s in ("dev", "test")}  # a uniform "MLP"
    sharp = {s: np.where(b.probs[s] < 0.2, 0.5, 0.05) for s in ("dev", "test")}  # good where KN is poor
    m = knbaseline.mix(b, flat, data)
    assert m.weight < 0.05 and m.mlp["dev"] == pytest.approx(len(data.vocab))  # the uniform guess is worth little
    m = knbaseline.mix(b, sharp, data)
    w = m.weight
    want = math.exp(-np.mean(np.log(w * sharp["test"] + (1 - w) * b.probs["test"])))
    assert w == fit_mixture(sharp["dev"], b.probs["dev"]).weight and m.perplexity["test"] == pytest.approx(want)
    assert m.perplexity["dev"] <= min(m.mlp["dev"], m.ngram["dev"]) + 1e-9
    assert m.bpc["dev"] == pytest.approx(math.log(m.perplexity["dev"]) * len(sharp["dev"]) / math.log(2)
                                         / data.chars["dev"])


def test_characters_and_word_lists_keep_add_k():
    lines = SimpleNamespace(options=TextOptions("lines", "words"))
    chars = SimpleNamespace(options=TextOptions("text", "chars"))
    assert not knbaseline.applies(lines) and not knbaseline.applies(chars)


def test_the_pane_labels_kneser_ney_and_the_mixture_per_word():
    kn = SimpleNamespace(order=4, kind="words", losses={"dev": 5.0}, seconds=1.25, nbytes=10, lower=False,
                         measures={"dev": {"perplexity": 148.41, "bpc": 1.5, "unk_rate": 0.02},
                                   "test": {"perplexity": 160.0, "bpc": 1.6, "unk_rate": 0.03}})
    full, short = baseline.baseline_note(kn, wide=False)
    assert baseline.column(kn) == "KN4" and "ppl per word dev 148.4  test 160.0" in full
    assert "a lower bound: <unk> dev 2.0%  test 3.0%" in full and "1.2 s" in full and "ppl/word dev 148.4" in short
    full, short = baseline.mixture_note(None, "words")
    assert "at pause and the end" in full
    mx = SimpleNamespace(step=1200, weight=0.625, perplexity={"dev": 120.0, "test": 130.0}, mlp={"dev": 150.0},
                         ngram={"dev": 148.41}, bpc={"dev": 1.4})
    full, short = baseline.mixture_note(mx, "words")
    assert "0.62 MLP + 0.38 KN" in full and "ppl per word dev 120.0  test 130.0" in full and "@1,200" in full
    assert "MLP 150.0, KN 148.4" in full and "w 0.62 ppl dev 120.0" in short
    assert baseline.mixture_cell(mx, "dev") == f"{math.log(120):.4f}" and baseline.mixture_cell(mx, "train") == ""
    counts = SimpleNamespace(order=4, k=0.1, losses={"dev": 2.2}, unseen_dev=0.5, used=10, table=27**4)
    assert baseline.column(counts) == "counts" and "k 0.1" in baseline.baseline_note(counts, True)[0]

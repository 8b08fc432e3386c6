"""The Kneser-Ney baseline of a dataset, and the paper's mixture with the MLP: the numbers word models are measured by.

A dataset's splits are token streams (core.tokens.stream_examples: every token and line end a target, each split's
first contexts padded with line ends). The model (core.probes.kneser_ney) is built once on the train split's stream
and scores every split with the same padded contexts the MLP sees, so its per-token probabilities and the MLP's
are of the same events and can be averaged: the mixture (core.probes.mixture), its weight fitted on dev and used as
is on test. The order that matches an MLP is its context plus one, capped at kneser_ney.MAX_ORDER.
Torch-free: the MLP's per-token probabilities come in as numpy arrays.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.measures import bits_per_char, perplexity
from core.probes import kneser_ney
from core.probes.mixture import fit_mixture, mixture_perplexity

MIN_ORDER = 2  # `mlp-tui ngram --tokens words --order N`: a bigram at least (a unigram ignores the context)
SPLITS = ("train", "dev", "test")
HELD = ("dev", "test")


def matching_order(block_size: int) -> int:
    """The order of the n-gram with the MLP's context: block_size + 1, at most kneser_ney.MAX_ORDER."""
    return min(block_size + 1, kneser_ney.MAX_ORDER)


def applies(data: Any) -> bool:
    """Kneser-Ney is the baseline of word and BPE models of running text (characters keep their add-k counts)."""
    return bool(data.options.text and data.options.tokens in ("words", "bpe"))


def stream(data: Any, split: str) -> np.ndarray:
    """A split's token stream: the targets in order, (n,) int64."""
    return np.asarray(data.Y[split].numpy(), dtype=np.int64)


@dataclass(frozen=True)
class Baseline:
    """A Kneser-Ney model of a dataset's train stream, its figures per split, and its per-token probabilities on
    dev and test (kept for the mixture, not sent anywhere)."""

    order: int
    vocab_size: int
    tokens: int  # training tokens
    seconds: float  # to build (scoring the splits apart)
    nbytes: int
    losses: dict[str, float]  # split -> mean negative log-likelihood per token (nats)
    measures: dict[str, dict[str, float]]  # split -> perplexity, and bpc and unk_rate (core.measures)
    probs: dict[str, np.ndarray] = field(repr=False, default_factory=dict)  # dev, test -> (n,) p of each token

    def as_dict(self) -> dict[str, Any]:
        return {"model": "interpolated modified Kneser-Ney", "order": self.order, "vocab_size": self.vocab_size,
                "train_tokens": self.tokens, "build_seconds": self.seconds, "memory_bytes": self.nbytes,
                "losses": self.losses, "measures": self.measures}


def build_baseline(data: Any, order: int) -> Baseline:
    """Kneser-Ney of `order` on data's train stream, scored on every split as the MLP's contexts are."""
    V = len(data.vocab)
    t0 = time.perf_counter()
    model = kneser_ney.build(stream(data, "train"), V, order)
    seconds = time.perf_counter() - t0
    pad = np.zeros(order - 1, dtype=np.int64)  # line ends: each split's first contexts, as stream_examples pads
    losses: dict[str, float] = {}
    measures: dict[str, dict[str, float]] = {}
    probs: dict[str, np.ndarray] = {}
    for s in SPLITS:
        y = stream(data, s)
        if not len(y):
            continue
        lp = model.log_probs(np.concatenate([pad, y]), start=order - 1)  # (n,)
        losses[s] = -float(lp.mean())
        measures[s] = split_figures(data, s, losses[s])
        if s in HELD:
            probs[s] = np.exp(lp)
    return Baseline(order, V, model.tokens, seconds, model.nbytes, losses, measures, probs)


def split_figures(data: Any, split: str, loss: float) -> dict[str, float]:
    """Perplexity per token, and on running text bits per character and (words) the <unk> rate."""
    n = len(data.Y[split])
    row = {"perplexity": perplexity(loss)}
    if data.options.text and data.chars.get(split):
        row["bpc"] = bits_per_char(loss, n, data.chars[split])
    if data.options.tokens == "words":
        row["unk_rate"] = data.unk.get(split, 0) / n if n else math.nan
    return row


@dataclass(frozen=True)
class MixtureResult:
    """The paper's mixture at one step: the weight of the MLP fitted on dev, and dev and test perplexities."""

    weight: float
    perplexity: dict[str, float]  # dev, test: the mixture's
    mlp: dict[str, float]  # ... the MLP's alone
    ngram: dict[str, float]  # ... Kneser-Ney's alone
    bpc: dict[str, float]  # the mixture's bits per character (running text)

    def as_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "perplexity": self.perplexity, "mlp_perplexity": self.mlp,
                "ngram_perplexity": self.ngram, "bpc": self.bpc}


def mix(baseline: Baseline, p_mlp: dict[str, np.ndarray], data: Any) -> MixtureResult:
    """w p_mlp + (1 - w) p_kn with w fitted on dev (ValueError if dev is empty), its perplexity on dev and test."""
    fit = fit_mixture(p_mlp["dev"], baseline.probs["dev"])
    ppl, mlp, ngram, bpc = {}, {}, {}, {}
    for s in HELD:
        if s not in p_mlp or s not in baseline.probs:
            continue
        ppl[s] = mixture_perplexity(p_mlp[s], baseline.probs[s], fit.weight)
        mlp[s] = mixture_perplexity(p_mlp[s], baseline.probs[s], 1.0)
        ngram[s] = mixture_perplexity(p_mlp[s], baseline.probs[s], 0.0)
        if data.options.text and data.chars.get(s) and math.isfinite(ppl[s]):
            bpc[s] = bits_per_char(math.log(ppl[s]), len(p_mlp[s]), data.chars[s])
    return MixtureResult(fit.weight, ppl, mlp, ngram, bpc)

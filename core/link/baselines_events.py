"""The split pane's baselines as protocol events (training process -> app): the counting baseline of characters,
Kneser-Ney of words and the paper's mixture. Apart from core.link.protocol for its size only; the protocol
imports them, so they are read as P.Counts, P.KneserNey and P.Mixed like every other message. Torch-free."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    """The counting baseline of the loaded data at the model's context (core.probes.ngram), for the split pane."""

    order: int
    k: float
    losses: dict
    unseen_dev: float
    used: int
    table: int


@dataclass(frozen=True)
class KneserNey:
    """A word model's n-gram baseline: interpolated modified Kneser-Ney at the model's context (core.probes.knbaseline),
    built once per dataset, for the split pane."""

    order: int
    kind: str  # the token kind its perplexities are per ("words")
    losses: dict  # split -> mean negative log-likelihood per token (nats)
    measures: dict  # split -> perplexity, bpc, unk_rate (core.measures)
    seconds: float  # to build
    nbytes: int
    lower: bool = False  # the text measured is the lowered one


@dataclass(frozen=True)
class Mixed:
    """The paper's mixture at a full evaluation: w p_mlp + (1 - w) p_kn, w fitted on dev; dev and test perplexities
    of the mixture, the MLP and Kneser-Ney, and the mixture's bits per character."""

    step: int
    weight: float
    perplexity: dict
    mlp: dict
    ngram: dict
    bpc: dict

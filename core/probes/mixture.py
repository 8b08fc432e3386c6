"""The paper's mixture: two language models' probabilities averaged, p = w p_a + (1 - w) p_b, w fitted on dev.

Bengio et al. 2003 averaged the MLP with an interpolated trigram at w = 0.5, and the mixture beat both: the two
models make different mistakes (the n-gram remembers exact phrases, the MLP generalises across similar words).
Here w is fitted instead. The dev log-likelihood L(w) = sum_i ln(w a_i + (1 - w) b_i) is concave in w, so its
derivative L'(w) = sum_i (a_i - b_i) / (w a_i + (1 - w) b_i) falls from L'(0) to L'(1): w = 0 if L'(0) <= 0,
w = 1 if L'(1) >= 0, else the root of L', found by bisection to within 1e-12 (one pass over the tokens per step,
about 40 steps). The inputs are each model's probability of the token that came, per position: numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mixture:
    """A fitted weight and the perplexities on the tokens it was fitted on."""

    weight: float  # w: the share of model a (the MLP)
    perplexity: float  # the mixture's
    perplexity_a: float  # model a's alone (w = 1)
    perplexity_b: float  # model b's alone (w = 0)

    def as_dict(self) -> dict[str, float]:
        return {"weight": self.weight, "perplexity": self.perplexity, "perplexity_a": self.perplexity_a,
                "perplexity_b": self.perplexity_b}


def check_probs(p_a: np.ndarray, p_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as 1-D float64 arrays of one length with every value in [0, 1]; anything else is a ValueError."""
    a, b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"two 1-D arrays of one length are needed, got shapes {a.shape} and {b.shape}")
    for name, x in (("p_a", a), ("p_b", b)):
        if len(x) and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1 + 1e-9):
            raise ValueError(f"{name} must hold probabilities in [0, 1]")
    return a, b


def mixture_perplexity(p_a: np.ndarray, p_b: np.ndarray, weight: float) -> float:
    """exp of the mean negative log of w p_a + (1 - w) p_b: the mixture at a given weight (say, dev's on test)."""
    a, b = check_probs(p_a, p_b)
    if not 0 <= weight <= 1:
        raise ValueError(f"weight must be from 0 to 1, got {weight}")
    if len(a) == 0:
        return math.nan
    with np.errstate(divide="ignore"):  # a probability of 0: an infinite perplexity, said as inf
        return math.exp(-float(np.mean(np.log(weight * a + (1 - weight) * b))))


def fit_mixture(p_a: np.ndarray, p_b: np.ndarray, tol: float = 1e-12) -> Mixture:
    """The weight w in [0, 1] that maximises the likelihood of w p_a + (1 - w) p_b, with the three perplexities."""
    a, b = check_probs(p_a, p_b)
    if len(a) == 0:
        raise ValueError("no tokens to fit the mixture on")

    def slope(w: float) -> float:  # L'(w), non-increasing in w
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = (a - b) / (w * a + (1 - w) * b)
        return float(np.sum(np.where(a == b, 0.0, terms)))  # a position where both agree pulls neither way

    if slope(0.0) <= 0:
        w = 0.0
    elif slope(1.0) >= 0:
        w = 1.0
    else:
        lo, hi = 0.0, 1.0
        while hi - lo > tol:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if slope(mid) > 0 else (lo, mid)
        w = (lo + hi) / 2
    return Mixture(weight=w, perplexity=mixture_perplexity(a, b, w), perplexity_a=mixture_perplexity(a, b, 1.0),
                   perplexity_b=mixture_perplexity(a, b, 0.0))

"""The paper's mixture (core.probes.mixture): the weight that maximises the likelihood, worked by hand, and on a
planted corpus an MLP trained by the Trainer mixed with Kneser-Ney beats both."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.probes.mixture import fit_mixture, mixture_perplexity


def test_the_weight_worked_by_hand():
    """Tokens (a, b) = (0.6, 0.2) twice and (0.2, 0.6) once: L'(w) = 2 * 0.4 / (0.2 + 0.4 w) - 0.4 / (0.6 - 0.4 w)
    is 0 where 2 (0.6 - 0.4 w) = 0.2 + 0.4 w, so w = 1 / 1.2 = 5/6; then each token's p is 0.5333 or 0.2667."""
    m = fit_mixture(np.array([0.6, 0.6, 0.2]), np.array([0.2, 0.2, 0.6]))
    assert m.weight == pytest.approx(5 / 6, abs=1e-9)
    p = np.array([0.2 + 0.4 * 5 / 6] * 2 + [0.6 - 0.4 * 5 / 6])
    assert m.perplexity == pytest.approx(math.exp(-np.log(p).mean()))
    assert m.perplexity_a == pytest.approx((0.6 * 0.6 * 0.2) ** (-1 / 3))
    assert m.perplexity_b == pytest.approx((0.2 * 0.2 * 0.6) ** (-1 / 3))
    assert m.perplexity < min(m.perplexity_a, m.perplexity_b)


def test_symmetric_models_mix_half_and_half():
    """(0.8, 0.2) and (0.2, 0.8): w = 0.5 by symmetry, every token at 0.5, perplexity 2; alone each is 1/0.4 = 2.5."""
    m = fit_mixture(np.array([0.8, 0.2]), np.array([0.2, 0.8]))
    assert m.weight == pytest.approx(0.5, abs=1e-9)
    assert (m.perplexity, m.perplexity_a, m.perplexity_b) == pytest.approx((2.0, 2.5, 2.5))
    assert m.as_dict()["weight"] == m.weight


def test_a_model_better_everywhere_takes_all_the_weight():
    a, b = np.array([0.5, 0.4, 0.9]), np.array([0.1, 0.4, 0.3])
    assert fit_mixture(a, b).weight == 1.0
    assert fit_mixture(b, a).weight == 0.0
    m = fit_mixture(np.array([0.3, 0.0]), np.array([0.1, 0.2]))  # a gives a token nothing: w stays below 1
    assert 0 < m.weight < 1 and math.isinf(m.perplexity_a) and math.isfinite(m.perplexity)
    assert mixture_perplexity(a, b, 0.25) == pytest.approx(math.exp(-np.log(0.25 * a + 0.75 * b).mean()))


def test_bad_probabilities_are_value_errors():
    with pytest.raises(ValueError, match="one length"):
        fit_mixture(np.array([0.5]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="p_b"):
        fit_mixture(np.array([0.5]), np.array([1.5]))
    with pytest.raises(ValueError, match="no tokens"):
        fit_mixture(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="weight"):
        mixture_perplexity(np.array([0.5]), np.array([0.5]), 1.2)


@pytest.mark.slow  # trains a small model (about 1 s, several under load; shared by the planted tests)
def test_on_a_planted_corpus_the_mixture_beats_the_mlp_and_kneser_ney():
    """An MLP (the Trainer, 3 tokens of context) and a Kneser-Ney 4-gram (the same 3 tokens) on the planted corpus:
    the weight fitted on dev lies strictly inside (0, 1), the mixture's dev perplexity is below both models', and at
    dev's weight the mixture beats both on test too."""
    import torch
    from planted import planted_model, windows

    from core.probes.kneser_ney import build

    corpus, model = planted_model()
    block = model.config.block_size
    kn = build(corpus.splits["train"], len(corpus.itos), block + 1)
    p_mlp, p_kn = {}, {}
    for s in ("dev", "test"):
        X, Y = windows(corpus.splits[s], block)
        with torch.no_grad():
            p = torch.softmax(model(X)[0].double(), 1)  # (n, V)
        p_mlp[s] = p[torch.arange(len(Y)), Y].numpy()
        p_kn[s] = np.exp(kn.log_probs(corpus.splits[s], start=block))  # the same positions, the same context
    m = fit_mixture(p_mlp["dev"], p_kn["dev"])
    assert 0.05 < m.weight < 0.95, m
    assert m.perplexity < min(m.perplexity_a, m.perplexity_b) - 0.005, m
    test = {w: mixture_perplexity(p_mlp["test"], p_kn["test"], w) for w in (0.0, m.weight, 1.0)}
    assert test[m.weight] < min(test[0.0], test[1.0]), test

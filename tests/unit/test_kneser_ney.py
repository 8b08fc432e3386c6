"""Interpolated modified Kneser-Ney (core.probes.kneser_ney): a proper distribution at every order, in seen and
unseen contexts; a bigram worked by hand; the discounts from count-of-counts."""

from __future__ import annotations

import numpy as np
import pytest

from core.probes.kneser_ney import MIN_DISCOUNT, build, discounts

# V = 5; id 4 never occurs. Bigrams: (0,1) x4, (1,0) x3, (1,2) x1, (2,3) x2, (3,2) x1, (3,1) x1.
STREAM = np.array([0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 1])


def test_a_bigram_worked_by_hand():
    """Continuation counts (distinct left neighbours; the stream's start counts as one for the first token):
    0 follows 1, and starts the stream: 2; 1 follows 0 and 3: 2; 2 follows 1 and 3: 2; 3 follows 2: 1; 4: 0.
    So T1 = 7. With the discounts fixed at D1 0.5, D2 1.0, D3+ 1.5 on both levels:
      unigram level: B1 = 0.5 * 1 (one word with c = 1) + 1.0 * 3 (three with c = 2) = 3.5,
        p1(w) = (max(c - D(c), 0) + 3.5 / 5) / 7: p1(0) = p1(1) = p1(2) = 1.7/7, p1(3) = 1.2/7, p1(4) = 0.7/7 = 0.1.
      after 1 (raw counts: 0 three times, 2 once): T = 4, B = 1.5 + 0.5 = 2,
        p(0|1) = (3 - 1.5 + 2 * 1.7/7) / 4 = 13.9/28;  p(2|1) = (1 - 0.5 + 2 * 1.7/7) / 4 = 6.9/28;
        p(1|1) = 2 * 1.7/7 / 4 = 3.4/28;  p(3|1) = 2.4/28;  p(4|1) = 1.4/28  (sum 28/28).
      after 4 (never seen): the unigram level as it is.
      after 0 (1 four times): T = 4, B = 1.5, p(1|0) = (4 - 1.5 + 1.5 * 1.7/7) / 4 = (17.5 + 2.55)/28."""
    m = build(STREAM, 5, 2, fixed=(0.5, 1.0, 1.5))
    assert m.levels[0].counts.tolist() == [2, 2, 2, 1, 0]
    assert m.levels[1].counts.tolist() == [4, 3, 1, 2, 1, 1]  # keys in order: (0,1) (1,0) (1,2) (2,3) (3,1) (3,2)
    assert m.levels[1].keys.tolist() == [0 * 5 + 1, 1 * 5 + 0, 1 * 5 + 2, 2 * 5 + 3, 3 * 5 + 1, 3 * 5 + 2]
    np.testing.assert_allclose(m.distribution(np.array([1])), np.array([13.9, 3.4, 6.9, 2.4, 1.4]) / 28)
    np.testing.assert_allclose(m.distribution(np.array([4])), np.array([1.7, 1.7, 1.7, 1.2, 0.7]) / 7)
    np.testing.assert_allclose(m.distribution(np.array([], dtype=np.int64)), np.array([1.7, 1.7, 1.7, 1.2, 0.7]) / 7)
    assert m.distribution(np.array([0]))[1] == pytest.approx((17.5 + 2.55) / 28)
    # a stream scored position by position: 4 with no context, 1 after 4, 0 after 1
    np.testing.assert_allclose(np.exp(m.log_probs(np.array([4, 1, 0]))), [0.1, 1.7 / 7, 13.9 / 28])
    # with start: the first token is context only
    np.testing.assert_allclose(np.exp(m.log_probs(np.array([4, 1, 0]), start=2)), [13.9 / 28])


def test_discounts_from_count_of_counts():
    """Bigram level of STREAM: n1 = 3, n2 = 1, n3 = 1, n4 = 1, so Y = 3 / (3 + 2) = 0.6,
    D1 = 1 - 2 * 0.6 * 1/3 = 0.6, D2 = 2 - 3 * 0.6 * 1/1 = 0.2, D3+ = 3 - 4 * 0.6 * 1/1 = 0.6.
    Unigram level (continuation counts 2, 2, 2, 1): n1 = 1, n2 = 3, n3 = 0: Y = 1/7, D1 = 1 - 2/7 * 3 = 1/7;
    D2 = 2 - 3/7 * 0/3 = 2 (the whole count: nothing was seen three times); n3 = 0, so D3+ = Y = 1/7."""
    m = build(STREAM, 5, 2)
    np.testing.assert_allclose(m.levels[1].discounts, (0.6, 0.2, 0.6))
    np.testing.assert_allclose(m.levels[0].discounts, (1 / 7, 2.0, 1 / 7))
    # n1 2, n2 1, n3 1, n4 2: Y 0.5, D1 0.5, D2 2 - 3 * 0.5 = 0.5, D3+ 3 - 4 * 0.5 * 2 = -1, raised to the floor
    assert discounts(np.array([1, 1, 2, 3, 4, 4, 9])) == pytest.approx((0.5, 0.5, MIN_DISCOUNT))
    assert discounts(np.array([], dtype=np.int64)) == (0.5, 0.5, 0.5)  # nothing counted: Ney's default
    assert all(MIN_DISCOUNT <= d <= r for r, d in zip((1, 2, 3), discounts(np.array([1, 2, 2, 2, 3, 3, 3, 3, 3, 4]))))


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_every_order_sums_to_one_in_seen_and_unseen_contexts(order):
    """A proper distribution over the whole vocabulary, ids never seen in training included, after contexts of the
    training stream (seen at every order), after made-up ones, after unseen ids, and after short contexts."""
    rng = np.random.default_rng(order)
    V = 60
    train = rng.integers(0, 40, size=3000)  # ids 40 to 59 never occur
    train[::7] = 3  # some structure: frequent repeats
    m = build(train, V, order)
    contexts = [train[i:i + order - 1] for i in rng.integers(0, len(train) - order, size=20)]  # seen
    contexts += [rng.integers(0, V, size=order - 1) for _ in range(20)]  # mostly unseen
    contexts += [np.full(order - 1, 59), np.array([], dtype=np.int64), train[:1], np.array([59, *train[:order - 2]])]
    for h in contexts:
        p = m.distribution(h)
        assert p.shape == (V,)
        assert (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert m.distribution(np.array([], dtype=np.int64))[45] > 0  # an id the training stream never had


@pytest.mark.parametrize("order", [2, 3, 5])
def test_log_probs_agree_with_the_distribution_at_every_position(order):
    """Scoring a stream (vectorised, all orders at once) gives what the distribution of each context gives."""
    rng = np.random.default_rng(10 + order)
    train = rng.integers(0, 12, size=4000)
    train[1::3] = (train[0::3][: len(train[1::3])] + 1) % 12  # every third pair is predictable
    m = build(train, 15, order)
    q = np.concatenate([train[-50:], rng.integers(0, 15, size=200)])
    lp = m.log_probs(q)
    for i in range(len(q)):
        assert np.exp(lp[i]) == pytest.approx(m.distribution(q[max(0, i - order + 1):i])[q[i]], rel=1e-12)


def test_higher_orders_predict_a_deterministic_stream_better():
    """A stream where the next id depends on the two before it: the trigram beats the bigram, and on held-out text
    of the same process every order's perplexity is finite and above 1."""
    rng = np.random.default_rng(3)
    x = [0, 1]
    for _ in range(20000):
        x.append((x[-1] + x[-2]) % 10 if rng.random() < 0.9 else int(rng.integers(10)))
    s = np.array(x)
    train, held = s[:16000], s[16000:]
    ppl = {n: build(train, 10, n).perplexity(held) for n in (1, 2, 3)}
    assert ppl[3] < ppl[2] - 1 and ppl[2] <= ppl[1] + 0.5, ppl
    assert all(1 < v < 10.5 for v in ppl.values()), ppl  # uniform over the 10 ids would be 10


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="order"):
        build(STREAM, 5, 6)
    with pytest.raises(ValueError, match="from 0 to 2"):
        build(STREAM, 3, 2)
    with pytest.raises(ValueError, match="1-D"):
        build(STREAM.reshape(1, -1), 5, 2)
    m = build(STREAM, 5, 3)
    with pytest.raises(ValueError, match="from 0 to 4"):
        m.log_probs(np.array([0, 5]))
    assert m.log_probs(np.array([], dtype=np.int64)).shape == (0,)
    empty = build(np.array([], dtype=np.int64), 4, 3)  # nothing to count: uniform
    np.testing.assert_allclose(empty.distribution(np.array([1, 2])), 0.25)

"""Interpolated modified Kneser-Ney: the n-gram baseline that word models are measured against (orders 1 to 5).

Chen and Goodman's model ("An empirical study of smoothing techniques for language modeling", 1998), the one the
Bengio et al. 2003 paper compares with. For the order-k level, with h the k-1 tokens before w:

    p_k(w | h) = (max(c_k(h w) - D_k(c), 0) + B_k(h) p_{k-1}(w | h')) / T_k(h),    h' = h without its first token
    T_k(h) = sum over w of c_k(h w),    B_k(h) = D_k1 N1(h) + D_k2 N2(h) + D_k3+ N3+(h)

where N_r(h) counts the tokens seen after h with c_k = r (N3+: 3 or more). A context with T_k(h) = 0 (never seen)
gives p_k = p_{k-1}. The levels bottom out in the uniform 1/V, so every id of the vocabulary has mass, in seen
and unseen contexts alike, and each level sums to 1 because every D_k(c) <= c.
- c_k is the raw count at the model's own order, and the continuation count below it: the number of distinct
  tokens seen just before the k-gram (Kneser and Ney's insight: "Francisco" is frequent but follows one word).
  The start of the training stream counts as one such left context, since nothing can be seen before it.
- The three discounts of each level come from its count-of-counts n_r (the k-grams with c_k = r):
  Y = n1 / (n1 + 2 n2),  D_r = r - (r + 1) Y n_{r+1} / n_r  (r = 1, 2, 3; D_3 serves every count of 3 or more).
  Where n_r = 0 the formula is undefined and D_r = Y (Ney's absolute discount). Each D_r is clipped to
  [MIN_DISCOUNT, r]: small or odd streams can give D_r <= 0, which would leave the ids never seen after a
  context with no mass at all (Kneser-Ney toolkits refuse such data; a baseline should still score it).

Storage is sorted integer keys, never Python dicts: every distinct k-gram has an id, its index in the sorted
array of level k's keys, and its key is (id of its first k-1 tokens) * V + its last token. A key is below
(training tokens) * V, so it fits an int64 at any order, whatever V. Building is one np.unique per level over
every position of the stream; looking a stream up is one np.searchsorted per level. Token ids are plain
integers in [0, V): `<unk>` and the line end `</s>` are ordinary ids to this module. Torch-free: numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_ORDER = 5
MIN_DISCOUNT = 0.1  # the floor of every discount: each seen context hands some mass down, so no id gets p = 0


@dataclass(frozen=True)
class Level:
    """One order k of the model: its distinct k-grams with their counts, and per context the mass it discounts."""

    keys: np.ndarray  # (G_k,) int64, sorted: (id of the k-gram's first k-1 tokens) * V + its last token
    counts: np.ndarray  # (G_k,) int64: raw counts at the model's order, continuation counts below
    total: np.ndarray  # (G_{k-1},) float64 per context (a (k-1)-gram id): T_k(h), the sum of its counts
    backoff: np.ndarray  # (G_{k-1},) float64 per context: B_k(h), the mass handed to the order below
    discounts: tuple[float, float, float]  # D1, D2, D3+

    def discount_of(self, c: np.ndarray) -> np.ndarray:
        """D(c) for each count: 0 for 0, then D1, D2, D3+."""
        table = np.array((0.0, *self.discounts))
        return table[np.minimum(c, 3)]

    def interpolate(self, ctx: np.ndarray, c: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """p_k from the order below, for contexts `ctx` (ids; -1 or a zero total: not seen) and counts `c`."""
        safe = np.maximum(ctx, 0)
        total = np.where(ctx >= 0, self.total[safe], 0.0)
        seen = total > 0
        t = np.where(seen, total, 1.0)
        p = (np.maximum(c - self.discount_of(c), 0.0) + self.backoff[safe] * lower) / t
        return np.where(seen, p, lower)

    def count(self, gram: np.ndarray) -> np.ndarray:
        """The counts of k-grams by id, 0 for -1 (never seen)."""
        if len(self.counts) == 0:
            return np.zeros(len(gram), dtype=np.int64)
        return np.where(gram >= 0, self.counts[np.maximum(gram, 0)], 0)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The ids of these keys among the level's k-grams, -1 where absent."""
        if len(self.keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, pos, -1)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.counts.nbytes + self.total.nbytes + self.backoff.nbytes


def discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """Chen and Goodman's D1, D2, D3+ from count-of-counts (see the module's docstring for the undefined cases)."""
    c = np.asarray(counts)
    n = [int(np.count_nonzero(c == r)) for r in (1, 2, 3, 4)]  # n[r - 1] = n_r
    y = n[0] / (n[0] + 2 * n[1]) if n[0] + 2 * n[1] else 0.5
    out = []
    for r in (1, 2, 3):
        d = r - (r + 1) * y * n[r] / n[r - 1] if n[r - 1] else y
        out.append(min(max(d, MIN_DISCOUNT), float(r)))
    return out[0], out[1], out[2]


@dataclass(frozen=True)
class KneserNey:
    """An interpolated modified Kneser-Ney model of one token stream; build it with `build`."""

    order: int
    vocab_size: int
    levels: tuple[Level, ...]  # levels[k - 1] is order k
    tokens: int  # training tokens

    @property
    def nbytes(self) -> int:
        """What the model holds in memory (its arrays)."""
        return sum(lv.nbytes for lv in self.levels)

    def _ids(self, q: np.ndarray) -> list[np.ndarray]:
        """ids[k][s]: the id of the k-gram q[s:s+k] at level k (-1 if never seen), for every start s."""
        ids = [np.zeros(len(q), dtype=np.int64)]  # the empty prefix: id 0
        for k in range(1, self.order + 1):
            m = max(len(q) - k + 1, 0)
            prev = ids[k - 1][:m]  # (m,) the ids of the first k-1 tokens
            found = self.levels[k - 1].find(np.maximum(prev, 0) * self.vocab_size + q[k - 1:k - 1 + m])
            ids.append(np.where(prev >= 0, found, -1))  # (m,)
        return ids

    def log_probs(self, tokens: np.ndarray, start: int = 0) -> np.ndarray:
        """ln p(tokens[i] | the up to order-1 tokens before it in `tokens`) for every i from `start` on.

        Earlier tokens serve only as context: pass the end of the training stream before dev with `start` at
        its length, as contexts slide across split boundaries. Returns (len(tokens) - start,) float64."""
        q = self._check(tokens)
        if not 0 <= start <= len(q):
            raise ValueError(f"start must be from 0 to {len(q)}, got {start}")
        ids = self._ids(q)
        i = np.arange(start, len(q))  # (n,) the positions scored
        p = np.full(len(i), 1.0 / self.vocab_size)  # the uniform base
        for k in range(1, self.order + 1):
            sel = i >= k - 1  # positions with k-1 tokens before them
            s = i[sel] - (k - 1)  # where the context starts
            lv = self.levels[k - 1]
            p[sel] = lv.interpolate(ids[k - 1][s], lv.count(ids[k][s]), p[sel])
        return np.log(p)

    def distribution(self, context: np.ndarray) -> np.ndarray:
        """p(w | context) for every id w of the vocabulary, (V,) float64; the last order-1 tokens of `context` count."""
        h = self._check(context)[len(context) - min(len(context), self.order - 1):]
        V = self.vocab_size
        ids = self._ids(h)
        w = np.arange(V)
        p = np.full(V, 1.0 / V)
        for k in range(1, min(len(h) + 1, self.order) + 1):
            ctx = ids[k - 1][len(h) - (k - 1)] if k > 1 else 0  # the id of the last k-1 tokens
            lv = self.levels[k - 1]
            gram = lv.find(max(ctx, 0) * V + w) if ctx >= 0 else np.full(V, -1)  # (V,)
            p = lv.interpolate(np.full(V, ctx), lv.count(gram), p)
        return p

    def perplexity(self, tokens: np.ndarray, start: int = 0) -> float:
        """exp of the mean negative log-probability of tokens[start:] (see log_probs)."""
        lp = self.log_probs(tokens, start)
        return math.exp(-float(lp.mean())) if len(lp) else math.nan

    def _check(self, tokens: np.ndarray) -> np.ndarray:
        return check_tokens(tokens, self.vocab_size)


def check_tokens(tokens: np.ndarray, vocab_size: int) -> np.ndarray:
    """The tokens as a 1-D int64 array, each id in [0, vocab_size); anything else is a ValueError."""
    q = np.asarray(tokens)
    if q.ndim != 1 or (len(q) and not np.issubdtype(q.dtype, np.integer)):
        raise ValueError(f"tokens must be a 1-D array of integer ids, got shape {q.shape} of {q.dtype}")
    q = q.astype(np.int64, copy=False)
    if len(q) and (q.min() < 0 or q.max() >= vocab_size):
        raise ValueError(f"token ids must be from 0 to {vocab_size - 1}, got {q.min()} to {q.max()}")
    return q


def build(tokens: np.ndarray, vocab_size: int, order: int,
          fixed: tuple[float, float, float] | None = None) -> KneserNey:
    """The model of order `order` (1 to 5) of a training stream of ids in [0, vocab_size).

    `fixed` sets every level's three discounts instead of estimating them (for worked examples)."""
    if not (isinstance(order, int) and 1 <= order <= MAX_ORDER):
        raise ValueError(f"order must be from 1 to {MAX_ORDER}, got {order!r}")
    if not (isinstance(vocab_size, int) and vocab_size >= 1):
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    t = check_tokens(tokens, vocab_size)
    V, N = vocab_size, len(t)
    grams = _grams(t, V, order)
    levels = []
    for k in range(1, order + 1):
        keys, ids, _ = grams[k - 1]
        if k == order:
            counts = np.bincount(ids, minlength=len(keys))  # raw counts
        else:  # continuation: distinct (k+1)-grams ending in each k-gram, and the stream's start once
            _, _, up_at = grams[k]
            counts = np.bincount(ids[up_at + 1], minlength=len(keys))
            if N >= k:
                counts[ids[0]] += 1
        contexts = max(len(grams[k - 2][0]), 1) if k > 1 else 1  # the (k-1)-grams (one at least, never looked up)
        levels.append(_level(keys, counts.astype(np.int64), V, contexts, fixed or discounts(counts[counts > 0])))
    return KneserNey(order=order, vocab_size=V, levels=tuple(levels), tokens=N)


def _grams(t: np.ndarray, V: int, order: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For k = 1 .. order: (sorted distinct keys, the id of the k-gram at every start, one start of each id)."""
    out = []
    prev = np.zeros(len(t), dtype=np.int64)  # ids of the empty prefix
    for k in range(1, order + 1):
        m = max(len(t) - k + 1, 0)
        if k == 1:  # unigrams: the id is the token, and every id of the vocabulary is a key
            keys, ids, at = np.arange(V, dtype=np.int64), t, np.empty(0, dtype=np.int64)  # (at: unused)
        else:
            keys, ids, at = _number(prev[:m] * V + t[k - 1:k - 1 + m])
        out.append((keys, ids, at))
        prev = out[-1][1]
    return out


def _number(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct keys sorted, each key's index among them, one position of each): np.unique's answer without the
    stable sort that its return_index needs (any occurrence will do here), about twice as fast on 1M keys."""
    if len(keys) == 0:
        return keys, keys.copy(), keys.copy()
    perm = np.argsort(keys)  # (n,)
    ordered = keys[perm]
    starts = np.empty(len(keys), dtype=bool)  # where a new key begins in sorted order
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    ids = np.empty(len(keys), dtype=np.int64)
    ids[perm] = np.cumsum(starts) - 1
    return ordered[starts], ids, perm[starts]


def _level(keys: np.ndarray, counts: np.ndarray, V: int, contexts: int, d: tuple[float, float, float]) -> Level:
    """A level's context totals and back-off masses from its k-grams' counts, over its `contexts` context ids."""
    prefix = keys // V  # (G_k,) the id of each k-gram's context
    lv = Level(keys=keys, counts=counts, total=np.empty(0), backoff=np.empty(0), discounts=d)
    total = np.bincount(prefix, weights=counts, minlength=contexts).astype(np.float64)
    backoff = np.bincount(prefix, weights=lv.discount_of(counts), minlength=contexts).astype(np.float64)
    return Level(keys=keys, counts=counts, total=total, backoff=backoff, discounts=d)

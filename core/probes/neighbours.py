"""Nearest neighbours in the embedding table C: "similar things land near each other", checked by cosine similarity.

The rows of C are compared by their angle alone (each row scaled to length 1), so a frequent token's larger row does
not crowd the rest out. An analogy a - b + c (king - man + woman) ranks the tokens by their cosine with the sum of
the three unit rows, leaving a, b and c out, as word2vec's evaluation does. An ensemble's C holds its members'
tables side by side (core.kernels.members), so a token's row is the concatenation of its members' embeddings:
that is the table used, each member's part at its own scale. Torch-free: C comes in as a numpy array.
"""

from __future__ import annotations

import numpy as np


def unit_rows(C: np.ndarray) -> np.ndarray:
    """C's rows scaled to length 1 (a zero row stays zero, so its cosine with anything is 0): (V, d) float64."""
    C = np.asarray(C, dtype=np.float64)
    if C.ndim != 2 or len(C) == 0:
        raise ValueError(f"an embedding table (V, d) is needed, got shape {C.shape}")
    norms = np.linalg.norm(C, axis=1, keepdims=True)  # (V, 1)
    return C / np.where(norms > 0, norms, 1.0)  # (V, d)


def _top(sims: np.ndarray, leave_out: tuple[int, ...], k: int) -> list[tuple[int, float]]:
    """The k best (id, similarity) pairs, best first, ties by id, never one of `leave_out`."""
    sims = sims.copy()
    sims[list(leave_out)] = -np.inf
    k = min(k, len(sims) - len(set(leave_out)))
    order = np.lexsort((np.arange(len(sims)), -sims))[:k]  # by similarity, then id: the same answer every time
    return [(int(i), float(sims[i])) for i in order]


def nearest(C: np.ndarray, token: int, k: int = 10) -> list[tuple[int, float]]:
    """The k tokens whose embeddings have the highest cosine similarity with `token`'s, itself left out."""
    U = unit_rows(C)
    _check_ids(len(U), token)
    return _top(U @ U[token], (token,), k)  # (V,) cosines


def analogy(C: np.ndarray, a: int, b: int, c: int, k: int = 10) -> list[tuple[int, float]]:
    """The k tokens nearest to a - b + c (unit rows; a, b and c left out): king - man + woman -> queen."""
    U = unit_rows(C)
    _check_ids(len(U), a, b, c)
    target = U[a] - U[b] + U[c]  # (d,)
    norm = np.linalg.norm(target)
    sims = U @ (target / norm if norm > 0 else target)  # (V,) cosines with the target
    return _top(sims, (a, b, c), k)


def _check_ids(V: int, *ids: int) -> None:
    for i in ids:
        if not 0 <= i < V:
            raise ValueError(f"token id {i} is outside the table's {V} rows")

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
    C = np.asarray(_table(C), dtype=np.float64)
    norms = np.linalg.norm(C, axis=1, keepdims=True)  # (V, 1)
    return C / np.where(norms > 0, norms, 1.0)  # (V, d)


def _table(C: np.ndarray) -> np.ndarray:
    C = np.asarray(C)
    if C.ndim != 2 or len(C) == 0:
        raise ValueError(f"an embedding table (V, d) is needed, got shape {C.shape}")
    return C


def _norms(C: np.ndarray) -> np.ndarray:
    """Each row's length in float64, a zero row's as 1 (its cosines are then 0): (V,)."""
    norms = np.sqrt(np.einsum("ij,ij->i", C, C, dtype=np.float64))  # (V,)
    return np.where(norms > 0, norms, 1.0)


def _cosines(C: np.ndarray, norms: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Each row's cosine with the unit vector v: (V,) float64.

    The rows are never scaled into a (V, d) copy: einsum casts C to float64 a buffer at a time and runs on this
    thread. The app asks between two chunks of training; at |V| 16K x 60 from float32 this took 8-12 ms on a
    busy 2-core machine, against 17-34 ms for unit rows and BLAS (whose thread pool sometimes waited 20 ms).
    """
    return np.einsum("ij,j->i", C, v, dtype=np.float64) / norms  # (V,)


def _top(sims: np.ndarray, leave_out: tuple[int, ...], k: int) -> list[tuple[int, float]]:
    """The k best (id, similarity) pairs, best first, ties by id, never one of `leave_out`."""
    sims = sims.copy()
    sims[list(leave_out)] = -np.inf
    k = min(k, len(sims) - len(set(leave_out)))
    if k <= 0:
        return []
    # only the rows at or above the k-th best are sorted (a full sort of 16K took a third of the answer's time)
    key = np.where(np.isnan(sims), -np.inf, sims)  # (V,) a NaN row (a diverged model's) ranks last
    cand = np.flatnonzero(key >= np.partition(key, len(key) - k)[len(key) - k])  # every tie of the k-th included
    order = cand[np.lexsort((cand, -key[cand]))][:k]  # by similarity, then id: the same answer every time
    return [(int(i), float(sims[i])) for i in order]


def nearest(C: np.ndarray, token: int, k: int = 10) -> list[tuple[int, float]]:
    """The k tokens whose embeddings have the highest cosine similarity with `token`'s, itself left out.
    C may be float32 (the live model's table, read in place) or float64."""
    C = _table(C)
    _check_ids(len(C), token)
    norms = _norms(C)
    return _top(_cosines(C, norms, C[token].astype(np.float64) / norms[token]), (token,), k)


def analogy(C: np.ndarray, a: int, b: int, c: int, k: int = 10) -> list[tuple[int, float]]:
    """The k tokens nearest to a - b + c (unit rows; a, b and c left out): king - man + woman -> queen."""
    C = _table(C)
    _check_ids(len(C), a, b, c)
    norms = _norms(C)
    ua, ub, uc = (C[i].astype(np.float64) / norms[i] for i in (a, b, c))  # (d,) unit rows
    target = ua - ub + uc  # (d,)
    norm = np.linalg.norm(target)
    return _top(_cosines(C, norms, target / norm if norm > 0 else target), (a, b, c), k)


def _check_ids(V: int, *ids: int) -> None:
    for i in ids:
        if not 0 <= i < V:
            raise ValueError(f"token id {i} is outside the table's {V} rows")

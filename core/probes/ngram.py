"""The counting baseline: an n-gram model with the MLP's context, to set the lecture's argument in numbers.

Order block_size + 1: the probability of the next character given the previous block_size ones
(padded with the boundary character, exactly the MLP's examples) is its count in the training split,
add-k smoothed, P(y | c) = (N(c, y) + k) / (N(c) + k V); a context never seen in training gets the
uniform 1/V. k is picked on the dev split from a small grid. Counting cannot scale with context: the
table has V^(block_size + 1) entries, and as the context grows most dev contexts were never seen.
Vectorised: the contexts of all splits are numbered with one torch.unique over their rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.data import SPLITS, Dataset

K_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class CountModel:
    order: int
    k: float
    losses: dict[str, float]  # split -> mean negative log-likelihood (nats)
    unseen_dev: float  # share of dev examples whose context never occurs in the training split
    used: int  # (context, next character) entries with a count: what a table actually holds
    table: int  # V^order entries a full table would need
    contexts: int  # distinct training contexts

    def as_dict(self) -> dict:
        return {"order": self.order, "k": self.k, "losses": self.losses, "unseen_dev_share": self.unseen_dev,
                "entries_used": self.used, "table_entries": self.table, "train_contexts": self.contexts}


def count_model(data: Dataset, k: float | None = None, grid: tuple[float, ...] = K_GRID) -> CountModel:
    """The n-gram model of order data.block_size + 1 on data's splits; k from `grid` on dev unless given."""
    V = len(data.vocab)
    X = {s: data.X[s] for s in SPLITS}
    Y = {s: data.Y[s] for s in SPLITS}
    rows = torch.cat([X[s] for s in SPLITS])  # (N, block_size)
    if data.block_size * math.log2(max(V, 2)) < 62:  # a context fits in one int64: number it in base V (fast)
        weights = V ** torch.arange(data.block_size - 1, -1, -1, dtype=torch.long)  # (block_size,)
        _, ids = torch.unique(rows @ weights, return_inverse=True)  # (N,)
    else:
        _, ids = torch.unique(rows, dim=0, return_inverse=True)  # (N,) one number per distinct context
    parts = dict(zip(SPLITS, ids.split([len(X[s]) for s in SPLITS])))
    n_ctx = int(ids.max()) + 1 if len(ids) else 0
    train_ids, train_y = parts["train"], Y["train"]
    cell = torch.bincount(train_ids * V + train_y, minlength=n_ctx * V).view(n_ctx, V).double()  # (C, V)
    per_ctx = cell.sum(1)  # (C,) N(c)
    seen = per_ctx > 0

    def nll(split: str, kk: float) -> float:
        c, y = parts[split], Y[split]
        if len(y) == 0:
            return math.nan
        p = (cell[c, y] + kk) / (per_ctx[c] + kk * V)  # (n,) smoothed probability of each next character
        return float(-torch.log(p).mean())

    if k is None:
        k = min(grid, key=lambda kk: nll("dev", kk)) if len(Y["dev"]) else 1.0
    dev_ids = parts["dev"]
    unseen = float((~seen[dev_ids]).double().mean()) if len(dev_ids) else math.nan
    return CountModel(order=data.block_size + 1, k=k, losses={s: nll(s, k) for s in SPLITS}, unseen_dev=unseen,
                      used=int((cell > 0).sum()), table=V ** (data.block_size + 1), contexts=int(seen.sum()))

"""An ensemble (core.kernels.members) seen as its members, for the probes that must not read the merged MLP.

The merged MLP's W1 is mostly zero blocks, its W2 holds each member's output weights over K, and its
gradients are those of the averaged logits' loss, which no member trains on. The health view reads the
members instead: each as the model it trains as (its own weights, loss and AdamW moments), then their mean.
"""

from __future__ import annotations

import math
from statistics import fmean

import torch

from core.link.protocol import Health
from core.model import MLP, unfold
from core.probes.inspection import health
from core.settings import DEFAULTS

__all__ = ["members_health", "members_of", "members_state"]


def members_of(model: MLP) -> list[MLP]:
    """The members of an ensemble as models of their own: new tensors, the merged model stays as it is."""
    K, T = model.config.members, model.config.block_size
    out = [MLP(model.config.member()) for _ in range(K)]  # weights overwritten below
    unfold([p.detach() for p in model.parameters()], [[p.detach() for p in m.parameters()] for m in out], T,
           model.get_buffer("member_b2"))
    return out


def members_state(state: dict, model: MLP) -> list[dict]:
    """The merged AdamW state (the Trainer's optimizer_state of an ensemble) split into each member's, as the
    members' kernels keep it: a second moment of W2 is K^2 times the merged one, and b2's are the member's own."""
    K, T = model.config.members, model.config.block_size
    shapes = [p.detach() for p in MLP(model.config.member()).parameters()]
    out: list[dict] = [{"step": state["step"]} for _ in range(K)]
    for key in ("exp_avg", "exp_avg_sq"):
        parts = [[torch.empty_like(p) for p in shapes] for _ in range(K)]
        unfold(list(state[key]), parts, T, power=2 if key == "exp_avg_sq" else 1)
        own = state.get("member_b2")
        for k in range(K):
            if own is not None:
                parts[k][4] = own[key][k]  # (vocab,): the member's own moments of b2
            out[k][key] = parts[k]
    return out


def members_health(model: MLP, X: torch.Tensor, Y: torch.Tensor, lr: float, step: int = 0, adam: dict | None = None,
                   betas: tuple[float, float] = (DEFAULTS["beta1"], DEFAULTS["beta2"])) -> Health:
    """core.probes.inspection.health of each member on the same rows, and their mean: the shares, the batch loss
    and the log10 ratios are the members' mean, the histogram and the dead units their sum (every hidden unit of
    the ensemble is one member's). Health.members holds each member's own line."""
    members = members_of(model)
    states: list[dict | None] = [None] * len(members) if adam is None else list(members_state(adam, model))
    each = [health(m, X, Y, lr, step, adam=s, betas=betas) for m, s in zip(members, states)]

    def mean_ratio(table: str) -> dict[str, float]:
        names = getattr(each[0], table)
        out = {}
        for name in names:
            vals = [getattr(h, table)[name] for h in each]
            finite = [v for v in vals if math.isfinite(v)]
            out[name] = fmean(finite) if finite else vals[0]
        return out

    first = each[0]
    return Health(
        step, fmean(h.saturated for h in each), sum(h.dead for h in each), sum(h.n_hidden for h in each),
        first.hist_edges, [sum(c) for c in zip(*(h.hist_counts for h in each))], mean_ratio("grad_ratio"),
        mean_ratio("update_ratio"), fmean(h.loss for h in each),
        members=[(k + 1, h.loss, h.saturated, h.dead, h.n_hidden) for k, h in enumerate(each)],
    )

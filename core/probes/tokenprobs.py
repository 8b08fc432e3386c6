"""The MLP's probability of each token that came, over a whole split: what the paper's mixture averages."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from core.model import evaluating


@torch.no_grad()
def token_probs(model: Any, X: torch.Tensor, Y: torch.Tensor, batch: int = 8192) -> np.ndarray:
    """p(Y[i] | X[i]) under the model, (n,) float64, in chunks as split_loss evaluates (batch norm: running
    statistics; the model's training mode is put back)."""
    out = np.empty(len(Y), dtype=np.float64)
    with evaluating(model):
        for i in range(0, len(Y), batch):
            logits, _ = model(X[i : i + batch])  # (b, V)
            lp = torch.log_softmax(logits, dim=-1)  # (b, V) float32, as split_loss's cross-entropy
            out[i : i + len(lp)] = lp.gather(1, Y[i : i + batch, None]).squeeze(1).double().exp().numpy()  # (b,) f64
    return out

"""The Bengio et al. (2003) MLP language model, as built in makemore part 2.

Each of the previous block_size characters is looked up in the embedding table C, the vectors are
concatenated, passed through a tanh hidden layer (W1, b1) and a linear layer (W2, b2) to logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.config import MLPConfig

__all__ = ["MLP", "MLPConfig", "split_loss"]


class MLP(nn.Module):
    """forward(idx, targets=None) -> (logits, loss), makemore style."""

    def __init__(self, config: MLPConfig, generator: torch.Generator | None = None):
        super().__init__()
        config.validate()
        self.config = config
        V, T, E, H = config.vocab_size, config.block_size, config.n_embd, config.n_hidden
        g = generator
        # Same draw order as the lecture (C, W1, b1, W2, b2), so a lecture seed gives lecture weights.
        self.C = nn.Parameter(torch.randn((V, E), generator=g))
        self.W1 = nn.Parameter(torch.randn((T * E, H), generator=g))
        self.b1 = nn.Parameter(torch.randn(H, generator=g))
        self.W2 = nn.Parameter(torch.randn((H, V), generator=g))
        self.b2 = nn.Parameter(torch.randn(V, generator=g))
        if config.init == "kaiming":
            with torch.no_grad():
                # tanh gain 5/3 over sqrt(fan_in) keeps the hidden units out of saturation; a small last
                # layer and a zero output bias make the first predictions near uniform (loss ~ ln V).
                self.W1.mul_((5 / 3) / math.sqrt(T * E))
                self.b1.mul_(0.01)
                self.W2.mul_(0.01)
                self.b2.zero_()

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        emb = self.C[idx]  # (B, block_size, n_embd)
        h = torch.tanh(emb.view(emb.shape[0], -1) @ self.W1 + self.b1)  # (B, n_hidden)
        logits = h @ self.W2 + self.b2  # (B, vocab_size)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


@torch.no_grad()
def split_loss(model: MLP, X: torch.Tensor, Y: torch.Tensor, batch: int = 8192) -> float:
    """Mean cross-entropy (nats) over a whole split, in chunks to stay cache-friendly."""
    if len(Y) == 0:
        return float("nan")
    total = 0.0
    for i in range(0, len(Y), batch):
        logits, _ = model(X[i : i + batch])
        total += F.cross_entropy(logits, Y[i : i + batch], reduction="sum").item()
    return total / len(Y)

"""The Bengio et al. (2003) MLP language model, as built in makemore part 2.

Each of the previous block_size characters is looked up in the embedding table C, the vectors are
concatenated, passed through a tanh hidden layer (W1, b1) and a linear layer (W2, b2) to logits.
With `batchnorm`, the hidden pre-activations are batch-normalised (gain bngain, bias bnbias) before
the tanh, as makemore part 3 builds it: batch statistics while training, running ones at evaluation.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.config import MLPConfig

__all__ = ["MLP", "MLPConfig", "split_loss"]

BN_EPS = 1e-5
BN_MOMENTUM = 0.01  # running statistics follow the last ~100 batches (the lecture uses 0.001)


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
        if config.batchnorm:
            self.bngain = nn.Parameter(torch.ones(H))
            self.bnbias = nn.Parameter(torch.zeros(H))
            self.register_buffer("running_mean", torch.zeros(H))
            self.register_buffer("running_var", torch.ones(H))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        emb = self.C[idx]  # (B, block_size, n_embd)
        h = torch.tanh(self.preact(emb.view(emb.shape[0], -1)))  # (B, n_hidden)
        logits = h @ self.W2 + self.b2  # (B, vocab_size)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    def preact(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden pre-activations for flattened embeddings x (B, block_size*n_embd), batch-normed if on."""
        hpre = x @ self.W1 + self.b1  # (B, n_hidden)
        if not self.config.batchnorm:
            return hpre
        if self.training:
            var, mean = torch.var_mean(hpre, 0, correction=0)  # (n_hidden,) each
            with torch.no_grad():
                n = hpre.shape[0]
                self.running_mean.lerp_(mean, BN_MOMENTUM)
                self.running_var.lerp_(var * (n / max(1, n - 1)), BN_MOMENTUM)
        else:
            mean, var = self.running_mean, self.running_var
        return self.bngain * (hpre - mean) * torch.rsqrt(var + BN_EPS) + self.bnbias  # (B, n_hidden)


@torch.no_grad()
def split_loss(model: MLP, X: torch.Tensor, Y: torch.Tensor, batch: int = 8192) -> float:
    """Mean cross-entropy (nats) over a whole split, in chunks to stay cache-friendly."""
    if len(Y) == 0:
        return float("nan")
    was_training = model.training
    model.eval()  # batch norm: running statistics, and evaluation never moves them
    total = 0.0
    for i in range(0, len(Y), batch):
        logits, _ = model(X[i : i + batch])
        total += F.cross_entropy(logits, Y[i : i + batch], reduction="sum").item()
    model.train(was_training)
    return total / len(Y)

"""The Bengio et al. (2003) MLP language model, as built in makemore part 2.

Each of the previous block_size characters is looked up in the embedding table C, the vectors are
concatenated, passed through a tanh hidden layer (W1, b1) and a linear layer (W2, b2) to logits.
With `batchnorm`, the hidden pre-activations are batch-normalised (gain bngain, bias bnbias) before
the tanh, as makemore part 3 builds it: batch statistics while training, running ones at evaluation.
Beyond the lecture: more hidden layers (part 3), the hierarchical model of part 5 (`arch` hier), batch
norm on the logits, and the paper's direct connections; core.config's plan() lists the layers.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.config import MLPConfig

__all__ = ["MLP", "MLPConfig", "split_loss"]

BN_EPS = 1e-5
BN_MOMENTUM = 0.01  # running statistics follow the last ~100 batches (the lecture uses 0.001)


class MLP(nn.Module):
    """forward(idx, targets=None) -> (logits, loss), makemore style.

    The layers follow config.plan(): the lecture's one hidden layer (C, W1, b1, W2, b2), or several
    (makemore part 3), or the hierarchical fusion of part 5, with batch norm after a Linear if asked
    (a Linear followed by batch norm has no bias, except the lecture's b1, kept as landed runs hold it),
    and Bengio et al.'s direct connections Wd from the embeddings to the logits.
    """

    def __init__(self, config: MLPConfig, generator: torch.Generator | None = None):
        super().__init__()
        config.validate()
        self.config = config
        V, T, E = config.vocab_size, config.block_size, config.n_embd
        g = generator
        self.layers = config.plan()
        # Same draw order as the lecture (C, W1, b1, W2, b2), so a lecture seed gives lecture weights.
        self.C = nn.Parameter(torch.randn((V, E), generator=g))
        for layer in self.layers:
            setattr(self, layer.W, nn.Parameter(torch.randn((layer.fan_in, layer.width), generator=g)))
            if layer.bias:
                setattr(self, layer.b, nn.Parameter(torch.randn(layer.width, generator=g)))
        if config.init == "kaiming":
            with torch.no_grad():
                # tanh gain 5/3 over sqrt(fan_in) keeps the hidden units out of saturation; a small last
                # layer and a zero output bias make the first predictions near uniform (loss ~ ln V).
                for layer in self.layers:
                    W, b = getattr(self, layer.W), getattr(self, layer.b, None)
                    W.mul_(0.01 if layer.out else (5 / 3) / math.sqrt(layer.fan_in))
                    if b is not None:
                        b.zero_() if layer.out else b.mul_(0.01)
        if config.init == "zero":
            with torch.no_grad():
                for p in self.parameters():
                    p.zero_()  # every unit computes the same thing, and the hidden ones get no gradient
        for layer in self.layers:
            if layer.bn:
                gain = 0.1 if layer.out else 1.0  # part 3: the logits' gain starts small, so the start is unsure
                setattr(self, layer.bn_name("bngain"), nn.Parameter(torch.full((layer.width,), gain)))
                setattr(self, layer.bn_name("bnbias"), nn.Parameter(torch.zeros(layer.width)))
                self.register_buffer(layer.bn_name("running_mean"), torch.zeros(layer.width))
                self.register_buffer(layer.bn_name("running_var"), torch.ones(layer.width))
        if config.direct:
            self.Wd = nn.Parameter(torch.zeros((T * E, V)))  # starts as the plain model; no draw, same weights

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        emb = self.C[idx]  # (B, block_size, n_embd)
        h = self.hidden(emb)  # (B, n_hidden)
        logits = self.linear(self.layers[-1], h)  # (B, vocab_size)
        if self.config.direct:
            logits = logits + emb.view(emb.shape[0], -1) @ self.Wd  # (B, vocab_size)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    def hidden(self, emb: torch.Tensor, keep: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The last hidden layer's activations (B, n_hidden) for embeddings (B, block_size, n_embd);
        `keep` collects every hidden layer's (for the health view)."""
        B = emb.shape[0]
        x = emb
        for layer in self.layers[:-1]:
            x = torch.tanh(self.linear(layer, x.reshape(B * layer.rows, layer.fan_in)))  # (B*rows, n_hidden)
            if keep is not None:
                keep.append(x)
        return x.view(B, -1)  # (B, n_hidden)

    def linear(self, layer: Any, x: torch.Tensor) -> torch.Tensor:
        """x @ W (+ b), batch-normed if the layer is: (rows, fan_in) -> (rows, width)."""
        W = getattr(self, layer.W)
        out = x @ W + getattr(self, layer.b) if layer.bias else x @ W  # (rows, width)
        if not layer.bn:
            return out
        mean_name, var_name = layer.bn_name("running_mean"), layer.bn_name("running_var")
        if self.training:
            var, mean = torch.var_mean(out, 0, correction=0)  # (width,) each
            with torch.no_grad():
                n = out.shape[0]
                getattr(self, mean_name).lerp_(mean, BN_MOMENTUM)
                getattr(self, var_name).lerp_(var * (n / max(1, n - 1)), BN_MOMENTUM)
        else:
            mean, var = getattr(self, mean_name), getattr(self, var_name)
        gain, bias = getattr(self, layer.bn_name("bngain")), getattr(self, layer.bn_name("bnbias"))
        return gain * (out - mean) * torch.rsqrt(var + BN_EPS) + bias  # (rows, width)

    def preact(self, x: torch.Tensor) -> torch.Tensor:
        """The first hidden layer's pre-activations for flattened embeddings x (B, block_size*n_embd)."""
        return self.linear(self.layers[0], x)


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

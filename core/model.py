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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.config import EVAL_ROWS, MLPConfig

__all__ = ["MLP", "MLPConfig", "dense_w1", "evaluating", "fold", "member_w1", "row_macs", "split_loss", "unfold"]

BN_EPS = 1e-5
BN_MOMENTUM = 0.01  # running statistics follow the last ~100 batches (the lecture uses 0.001)


class MLP(nn.Module):
    """forward(idx, targets=None) -> (logits, loss), makemore style.

    The layers follow config.plan(): the lecture's one hidden layer (C, W1, b1, W2, b2), or several
    (makemore part 3), or the hierarchical fusion of part 5, with batch norm after a Linear if asked
    (a Linear followed by batch norm has no bias, except the lecture's b1, kept as landed runs hold it),
    and Bengio et al.'s direct connections Wd from the embeddings to the logits.
    """

    # made by name from config.plan() (setattr, register_buffer): declared for a type checker, present only
    # where the layout has them (W1, b1, W2, b2 and the running statistics are the lecture layout's names)
    C: nn.Parameter
    W1: nn.Parameter
    b1: nn.Parameter
    W2: nn.Parameter
    b2: nn.Parameter
    Wd: nn.Parameter
    running_mean: torch.Tensor
    running_var: torch.Tensor
    member_b2: torch.Tensor

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
        if config.members > 1:  # each member drawn as its own model, then laid out block by block
            members = [MLP(config.member(), g) for _ in range(config.members)]
            self.register_buffer("member_b2", torch.zeros(config.members, V))  # each member's own output bias
            with torch.no_grad():
                for p in self.parameters():
                    p.zero_()
            fold([[p.detach() for p in m.parameters()] for m in members], [p.detach() for p in self.parameters()], T,
                 self.member_b2)

    def num_params(self) -> int:
        """The trained parameters (an ensemble's members' own, not the zero blocks between them)."""
        if self.config.members > 1:
            return self.config.num_params()
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
        if self.config.members > 1:  # the members' blocks only: W1 off its diagonal blocks is zero
            x = self._members_hidden(emb)  # (B, n_hidden)
            if keep is not None:
                keep.append(x)
            return x
        x = emb
        for layer in self.layers[:-1]:
            x = torch.tanh(self.linear(layer, x.reshape(B * layer.rows, layer.fan_in)))  # (B*rows, n_hidden)
            if keep is not None:
                keep.append(x)
        return x.view(B, -1)  # (B, n_hidden)

    def _members_hidden(self, emb: torch.Tensor) -> torch.Tensor:
        """tanh(x @ W1 + b1) of an ensemble (core.kernels.members), member by member: K times one member's work
        where the dense product would be K^2 (the merged W1 is mostly zero blocks)."""
        K, T = self.config.members, self.config.block_size
        B, E, H = emb.shape[0], self.config.n_embd // K, self.config.n_hidden // K
        W1 = self.W1.view(T, K, E, K, H)
        blocks = torch.stack([W1[:, k, :, k, :] for k in range(K)]).reshape(K, T * E, H)  # (K, T*E, H)
        x = emb.reshape(B, T, K, E).permute(2, 0, 1, 3).reshape(K, B, T * E)  # (K, B, T*E) each member's input
        h = torch.tanh(torch.baddbmm(self.b1.view(K, 1, H), x, blocks))  # (K, B, H)
        return h.permute(1, 0, 2).reshape(B, K * H)  # (B, n_hidden)

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


EVAL_CELLS = 1 << 22  # hidden activations per evaluation chunk, at most (16 MB): EVAL_ROWS rows of a narrow model


def eval_rows(config: MLPConfig) -> int:
    """Rows per chunk of split_loss: EVAL_ROWS (8192), fewer for a wide model, whose chunk would overflow the
    caches (the `best` ensemble's 2048 hidden units evaluated ~1.5x faster in chunks of 2048 than of 8192)."""
    widest = max(layer.rows * layer.width for layer in config.plan() if not layer.out)
    return max(256, min(EVAL_ROWS, EVAL_CELLS // widest))


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """The model in eval mode inside (batch norm reads its running statistics and never moves them, dropout is
    off), and its training mode put back after, error or not: what every look at the model from outside the
    training step needs."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def row_macs(config: MLPConfig) -> int:
    """Multiply-adds of one row's forward pass as split_loss computes it: what an evaluation costs per row (an
    ensemble's hidden layer is its members' blocks of W1, 1/K of the dense product)."""
    layers = config.plan()
    macs = sum(layer.rows * layer.fan_in * layer.width for layer in layers)
    if config.members > 1:
        first = layers[0]
        macs -= first.rows * first.fan_in * first.width * (config.members - 1) // config.members
    if config.direct:
        macs += config.block_size * config.n_embd * config.vocab_size
    return macs


@torch.no_grad()
def split_loss(model: MLP, X: torch.Tensor, Y: torch.Tensor, batch: int | None = None, threads: int = 1) -> float:
    """Mean cross-entropy (nats) over a whole split, in chunks (eval_rows) to stay cache-friendly.

    `threads`: the cores the run trains on. An ensemble's chunks are then shared out among that many threads
    (up to its members; torch keeps to one thread in each, as its members' training does); the chunks' sums
    are added in order, so the loss is the same to the bit on any number. Another model evaluates on the
    calling thread, with the torch threads its training set."""
    if len(Y) == 0:
        return float("nan")
    batch = batch or eval_rows(model.config)

    def chunk_sum(i: int) -> float:
        with torch.no_grad():  # (a thread of the pool does not inherit the caller's no_grad)
            logits, _ = model(X[i : i + batch])  # (batch, vocab_size)
            return F.cross_entropy(logits, Y[i : i + batch], reduction="sum").item()

    starts = range(0, len(Y), batch)
    n = min(threads, model.config.members, len(starts)) if model.config.members > 1 else 1
    with evaluating(model):  # batch norm: running statistics, and evaluation never moves them
        if n > 1:
            with ThreadPoolExecutor(n, thread_name_prefix="mlp-tui-eval") as pool:
                sums = list(pool.map(chunk_sum, starts))
        else:
            sums = [chunk_sum(i) for i in starts]
    total = 0.0
    for part in sums:  # in the chunks' order, whatever the threads
        total += part
    return total / len(Y)


# ---- an ensemble's layout (core.kernels.members): the members' weights in and out of the merged ones ----
def _blocks(merged: list[torch.Tensor], K: int, T: int) -> list[list[torch.Tensor]]:
    """Views of member k's block of each merged tensor (C, W1, b1, W2): [k][i]."""
    C, W1, b1, W2 = merged[:4]
    V, KE = C.shape
    E, H = KE // K, W1.shape[1] // K
    W1v = W1.view(T, K, E, K, H)  # (position, member, its embedding, member, its hidden unit)
    return [[C[:, k * E:(k + 1) * E], W1v[:, k, :, k, :], b1[k * H:(k + 1) * H], W2[k * H:(k + 1) * H]]
            for k in range(K)]


@torch.no_grad()
def fold(members: list[list[torch.Tensor]], merged: list[torch.Tensor], T: int,
         member_b2: torch.Tensor | None = None, power: int = 1) -> None:
    """Write the members' (C, W1, b1, W2, b2) into the merged tensors: the block layout above. W1's
    blocks off the diagonal are left as they are (zero from the start, and nothing writes them).
    member_b2 (K, V), the model's buffer, keeps each member's own b2 (the merged b2 is their mean).
    power 2 folds AdamW's second moments, which scale with the square of W2's 1/K."""
    K = len(members)
    if member_b2 is not None:
        torch.stack([m[4] for m in members], out=member_b2)
    for blocks, m in zip(_blocks(merged, K, T), members):
        C, W1, b1, W2 = blocks
        C.copy_(m[0])
        W1.copy_(m[1].view(T, -1, W1.shape[-1]))  # (T*E, H) seen as (T, E, H)
        b1.copy_(m[2])
        torch.mul(m[3], 1.0 / K**power, out=W2)  # K is a power of two: exact
    torch.mean(torch.stack([m[4] for m in members]), 0, out=merged[4])


@torch.no_grad()
def unfold(merged: list[torch.Tensor], members: list[list[torch.Tensor]], T: int,
           member_b2: torch.Tensor | None = None, power: int = 1) -> None:
    """The inverse of fold, into the members' tensors: each member's b2 from member_b2, or without it
    (AdamW's moments) the merged mean for all."""
    K = len(members)
    for k, (blocks, m) in enumerate(zip(_blocks(merged, K, T), members)):
        C, W1, b1, W2 = blocks
        m[0].copy_(C)
        m[1].view(T, -1, W1.shape[-1]).copy_(W1)
        m[2].copy_(b1)
        torch.mul(W2, float(K**power), out=m[3])
        m[4].copy_(merged[4] if member_b2 is None else member_b2[k])


def member_w1(W1: torch.Tensor, K: int, T: int) -> torch.Tensor:
    """The members' own blocks of an ensemble's merged W1 (T*K*E, K*H), as a new tensor (K, T, E, H): 1/K of
    W1, which is all a checkpoint needs (the blocks between members are zero)."""
    E, H = W1.shape[0] // (T * K), W1.shape[1] // K
    W1v = W1.reshape(T, K, E, K, H)  # (position, member, its embedding, member, its hidden unit)
    return torch.stack([W1v[:, k, :, k, :] for k in range(K)])  # (K, T, E, H)


def dense_w1(blocks: torch.Tensor) -> torch.Tensor:
    """The inverse of member_w1: the merged W1 (T*K*E, K*H) of the members' blocks (K, T, E, H), zero between."""
    K, T, E, H = blocks.shape
    W1 = blocks.new_zeros(T, K, E, K, H)  # (position, member, its embedding, member, its hidden unit)
    for k in range(K):
        W1[:, k, :, k, :] = blocks[k]
    return W1.view(T * K * E, K * H)

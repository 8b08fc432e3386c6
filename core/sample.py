"""Sampling names from a trained model, all names of a batch in parallel."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.data import Vocab
from core.model import MLP


@dataclass(frozen=True)
class Sample:
    text: str
    in_train: bool  # True if the training split already has this exact word
    truncated: bool = False  # hit the length guard before the end token


@torch.no_grad()
def sample(
    model: MLP,
    vocab: Vocab,
    n: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    max_len: int = 50,
    train_words: set[str] | frozenset[str] = frozenset(),
    prefix: str = "",
) -> list[Sample]:
    """Draw n words at once: one forward pass per character position for the whole batch."""
    if n < 1:
        return []
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    was_training = model.training
    model.eval()
    T = model.config.block_size
    ctx = torch.zeros((n, T), dtype=torch.long)  # (n, block_size) all boundary tokens
    pre = vocab.encode(prefix)
    for ch in pre:  # a given prefix is fed in before sampling starts
        ctx = torch.cat([ctx[:, 1:], torch.full((n, 1), ch)], 1)
    out = torch.zeros((n, max_len), dtype=torch.long)  # (n, max_len)
    done = torch.zeros(n, dtype=torch.bool)
    lengths = torch.full((n,), max_len)
    for t in range(max_len):
        logits, _ = model(ctx)  # (n, vocab)
        probs = F.softmax(logits / temperature, dim=1)
        ix = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (n,)
        ended = (ix == 0) & ~done
        lengths[ended] = t
        done |= ix == 0
        out[:, t] = ix
        ctx = torch.cat([ctx[:, 1:], ix[:, None]], 1)
        if bool(done.all()):
            break
    model.train(was_training)
    result = []
    for row, length in zip(out.tolist(), lengths.tolist()):
        word = prefix + vocab.decode(row[:length])
        result.append(Sample(word, word in train_words, truncated=length == max_len))
    return result

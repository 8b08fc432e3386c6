"""Datasets made of token ids, for timing a word model: from any token stream (token_dataset), or a synthetic
stand-in (zipf_dataset) where a word corpus is not at hand. A kernel sees only contexts, targets and a vocabulary
size, so a stream whose word frequencies follow Zipf's law times a step as a real text of that vocabulary does;
its losses mean nothing (the tokens are independent draws)."""

from __future__ import annotations

import torch

from core.data import Dataset, Vocab

__all__ = ["ZIPF_TOKENS", "ZIPF_VOCAB", "token_dataset", "zipf_dataset"]

ZIPF_VOCAB = 16_383  # Bengio et al.'s Brown corpus vocabulary (words seen more than 3 times)
ZIPF_TOKENS = 1_000_000  # about the Brown corpus's training and validation words


def token_dataset(stream: torch.Tensor, vocab_size: int, block_size: int, source: str) -> Dataset:
    """A Dataset of a token stream (n,) of ids below vocab_size: every token after the first block_size is a
    target, its context the block_size tokens before it; the first 80% of targets train, the next 10% dev, the
    last 10% test (contiguous, as running text splits). The vocabulary's entries are placeholders (<id>)."""
    X = stream.unfold(0, block_size, 1)[:-1]  # (n - block_size, block_size) a strided view: no copy
    Y = stream[block_size:]  # (n - block_size,)
    a, b = int(0.8 * len(Y)), int(0.9 * len(Y))
    cuts = {"train": (0, a), "dev": (a, b), "test": (b, len(Y))}
    vocab = Vocab(tuple(f"<{i}>" for i in range(vocab_size)))
    return Dataset(source, [], vocab, block_size, 0, {s: [] for s in cuts},
                   {s: X[i:j] for s, (i, j) in cuts.items()}, {s: Y[i:j] for s, (i, j) in cuts.items()})


def zipf_dataset(block_size: int, vocab_size: int = ZIPF_VOCAB, tokens: int = ZIPF_TOKENS, seed: int = 0) -> Dataset:
    """token_dataset of `tokens` independent draws with p(rank r) proportional to 1/r, seeded."""
    g = torch.Generator().manual_seed(seed)
    p = 1.0 / torch.arange(1, vocab_size + 1, dtype=torch.float64)  # (V,) Zipf's law, exponent 1
    stream = torch.multinomial(p / p.sum(), tokens, replacement=True, generator=g)  # (tokens,)
    return token_dataset(stream, vocab_size, block_size,
                         f"a synthetic Zipf stream of {tokens:,} tokens over {vocab_size:,} word ids")

"""Sampling names from a trained model, all names of a batch in parallel.

Safe for any temperature the settings accept: below GREEDY_BELOW the most likely character is taken
(the limit of softmax(logits / T) as T goes to 0), since logits / 1e-300 overflow to inf and the
probabilities to NaN. Large requests are drawn in batches of bounded memory (`sample_batches`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.data import Vocab
from core.errors import ConfigError
from core.model import MLP
from core.settings import DEFAULTS
from core.sizes import format_size

GREEDY_BELOW = 1e-6  # temperatures under this sample greedily
MAX_LEN = 50  # a word longer than this is cut (and marked truncated)
MAX_NAME_LEN = 30  # the samples of a running model (the app's, a score's completions): shorter, to fit a pane
BATCH_BYTES = 64 << 20  # memory for one batch of parallel samples
MAX_BATCH_BYTES = 1 << 30  # `sample()` draws all n at once: refuse more than this


class SampleError(ValueError):
    """The model's outputs are not finite numbers (its weights are damaged)."""


@dataclass(frozen=True)
class Sample:
    text: str
    in_train: bool  # True if the training split already has this exact word
    truncated: bool = False  # hit the length guard before the end token


def row_bytes(model: MLP, max_len: int = MAX_LEN) -> int:
    """Memory per sampled word: context and output indices, and a few vocabulary-sized float rows."""
    return 8 * (model.config.block_size + max_len + 2) + 4 * 4 * model.config.vocab_size


def batch_rows(model: MLP, max_len: int = MAX_LEN, budget: int | None = None) -> int:
    """Words per batch within `budget` bytes (BATCH_BYTES by default), at most 8,192."""
    return max(1, min(8192, (BATCH_BYTES if budget is None else budget) // row_bytes(model, max_len)))


@torch.no_grad()
def sample(
    model: MLP,
    vocab: Vocab,
    n: int,
    generator: torch.Generator | None = None,
    temperature: float = DEFAULTS["temperature"],
    max_len: int = MAX_LEN,
    train_words: set[str] | frozenset[str] = frozenset(),
    prefix: str = "",
) -> list[Sample]:
    """Draw n words at once: one forward pass per character position for the whole batch."""
    if n < 1:
        return []
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    need = n * row_bytes(model, max_len)
    if need > MAX_BATCH_BYTES:
        limit = format_size(MAX_BATCH_BYTES, unit="GiB", decimals=0)
        raise ConfigError(f"{n:,} samples at once would need {format_size(need, unit='GiB')} (the limit is {limit}); "
                          f"draw them in batches (sample_batches)")
    was_training = model.training
    model.eval()
    try:
        return _draw(model, vocab, n, generator, temperature, max_len, train_words, prefix)
    finally:
        model.train(was_training)


def sample_batches(model: MLP, vocab: Vocab, n: int, generator: torch.Generator | None = None,
                   temperature: float = DEFAULTS["temperature"], max_len: int = MAX_LEN,
                   train_words: set[str] | frozenset[str] = frozenset(), prefix: str = "") -> Iterator[list[Sample]]:
    """n words in batches of bounded memory, for outputs of any length (mlp-tui sample -n 10000000)."""
    rows = batch_rows(model, max_len)
    done = 0
    while done < n:
        k = min(rows, n - done)
        yield sample(model, vocab, k, generator, temperature, max_len, train_words, prefix)
        done += k


def _draw(model: MLP, vocab: Vocab, n: int, generator: torch.Generator | None, temperature: float, max_len: int,
          train_words: set[str] | frozenset[str], prefix: str) -> list[Sample]:
    T = model.config.block_size
    ctx = torch.zeros((n, T), dtype=torch.long)  # (n, block_size) all boundary tokens
    pre = vocab.encode(prefix)
    for ch in pre:  # a given prefix is fed in before sampling starts
        ctx = torch.cat([ctx[:, 1:], torch.full((n, 1), ch)], 1)
    out = torch.zeros((n, max_len), dtype=torch.long)  # (n, max_len)
    done = torch.zeros(n, dtype=torch.bool)
    lengths = torch.full((n,), max_len)
    greedy = temperature < GREEDY_BELOW
    for t in range(max_len):
        logits, _ = model(ctx)  # (n, vocab)
        if not bool(torch.isfinite(logits).all()):
            raise SampleError("the model's outputs are not finite numbers; its weights are damaged")
        scaled = None if greedy else logits / temperature  # (n, vocab)
        if scaled is None or not bool(torch.isfinite(scaled).all()):  # huge logits over a tiny T: the limit
            ix = logits.argmax(1)  # (n,)
        else:
            ix = torch.multinomial(F.softmax(scaled, dim=1), 1, generator=generator).squeeze(1)  # (n,)
        ended = (ix == 0) & ~done
        lengths[ended] = t
        done |= ix == 0
        out[:, t] = ix
        ctx = torch.cat([ctx[:, 1:], ix[:, None]], 1)
        if bool(done.all()):
            break
    result = []
    for row, length in zip(out.tolist(), lengths.tolist()):
        word = prefix + vocab.decode(row[:length])
        result.append(Sample(word, word in train_words, truncated=length == max_len))
    return result

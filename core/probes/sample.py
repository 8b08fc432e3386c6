"""Sampling names (or lines of running text) from a trained model, all of a batch in parallel.

A sample starts after line ends (the boundary token), as every line of the training data does, and stops at the
next one. Names may start with a `prefix` of characters; any model may continue a `prompt` of token ids
(core.tokens.encode_prompt: running text normalised and split by the model's own rule), which comes first in
each sample's text. Lines of running text are capped at `max_tokens` of the model's kind of token.

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
from core.model import MLP, evaluating
from core.settings import DEFAULTS
from core.sizes import format_size
from core.tokens import TextOptions

GREEDY_BELOW = 1e-6  # temperatures under this sample greedily
MAX_LEN = 50  # a word longer than this is cut (and marked truncated)
MAX_NAME_LEN = 30  # the samples of a running model (the app's, a score's completions): shorter, to fit a pane
LINE_TOKENS = {"words": 100, "chars": 500, "bpe": 300}  # a line of running text longer than this is cut (and marked)
PANE_LINE_TOKENS = {"words": 40, "chars": 200, "bpe": 100}  # the samples of a running model: shorter, to fit a pane
BATCH_BYTES = 64 << 20  # memory for one batch of parallel samples
MAX_BATCH_BYTES = 1 << 30  # `sample()` draws all n at once: refuse more than this


class SampleError(ValueError):
    """The model's outputs are not finite numbers (its weights are damaged)."""


@dataclass(frozen=True)
class Sample:
    text: str
    in_train: bool  # True if the training split already has this exact word
    truncated: bool = False  # hit the length guard before the end token


def max_tokens(options: TextOptions, pane: bool = False) -> int:
    """The length cap of one sample in tokens: a name's as before, a line of running text (or of words) longer."""
    if options.tokens == "chars" and not options.text:
        return MAX_NAME_LEN if pane else MAX_LEN
    return (PANE_LINE_TOKENS if pane else LINE_TOKENS)[options.tokens]


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
    prompt: list[int] | None = None,
    running: bool = False,
) -> list[Sample]:
    """Draw n words at once: one forward pass per token position for the whole batch. `prompt` (token ids) is
    fed in first and starts every sample's text; without it, `prefix` (characters of a name) is. `running`: lines
    of running text, which start after a line (line_start), not at the very start of the text."""
    if n < 1:
        return []
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    need = n * row_bytes(model, max_len)
    if need > MAX_BATCH_BYTES:
        limit = format_size(MAX_BATCH_BYTES, unit="GiB", decimals=0)
        raise ConfigError(f"{n:,} samples at once would need {format_size(need, unit='GiB')} (the limit is {limit}); "
                          f"draw them in batches (sample_batches)")
    with evaluating(model):
        start = vocab.encode(prefix) if prompt is None else list(prompt)
        ctx0 = line_start(model, max_len) if running else [0] * model.config.block_size
        return _draw(model, vocab, n, generator, temperature, max_len, train_words, start, ctx0)


def sample_batches(model: MLP, vocab: Vocab, n: int, generator: torch.Generator | None = None,
                   temperature: float = DEFAULTS["temperature"], max_len: int = MAX_LEN,
                   train_words: set[str] | frozenset[str] = frozenset(), prefix: str = "",
                   prompt: list[int] | None = None, running: bool = False) -> Iterator[list[Sample]]:
    """n words in batches of bounded memory, for outputs of any length (mlp-tui sample -n 10000000)."""
    rows = batch_rows(model, max_len)
    done = 0
    while done < n:
        k = min(rows, n - done)
        yield sample(model, vocab, k, generator, temperature, max_len, train_words, prefix, prompt, running)
        done += k


@torch.no_grad()
def line_start(model: MLP, max_len: int) -> list[int]:
    """The context a line of running text starts from: the end of a line the model writes greedily from the start
    of the text, and its line end. Contexts slide across line ends, so the training data has the text's start (all
    line ends) once, and a line that starts there is not like the lines of the text (nor is its score)."""
    with evaluating(model):
        ctx = [0] * model.config.block_size
        for _ in range(max_len):
            logits, _ = model(torch.tensor([ctx], dtype=torch.long))  # (1, vocab)
            ix = int(logits.argmax(1))
            ctx = [*ctx[1:], ix]
            if ix == 0:
                return ctx
        return [*ctx[1:], 0]  # a line that never ended, ended here


def _draw(model: MLP, vocab: Vocab, n: int, generator: torch.Generator | None, temperature: float, max_len: int,
          train_words: set[str] | frozenset[str], start: list[int], ctx0: list[int]) -> list[Sample]:
    T = model.config.block_size
    ctx = torch.tensor([ctx0] * n, dtype=torch.long).view(n, T)  # (n, block_size) where a line starts
    for ch in start[-T:]:  # a given prefix or prompt is fed in before sampling starts
        ctx = torch.cat([ctx[:, 1:], torch.full((n, 1), ch)], 1)  # (n, block_size)
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
        word = vocab.decode(start + row[:length])
        result.append(Sample(word, word in train_words, truncated=length == max_len))
    return result

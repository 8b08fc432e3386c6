"""Measures beside the loss: perplexity per token, and bits per character for running text.

Perplexity is exp of the mean loss (nats per token): the number of equally likely tokens the model is as
unsure as. It depends on the kind of token, so a character model's and a word model's do not compare.
Bits per character does: a split's total negative log-likelihood in bits, over the characters of its normalised
text (core.tokens: one space between tokens, one line end per line), the same count whatever the tokens. A word
model is given `<unk>`'s spelling for free, so its bits per character is a lower bound: the `<unk>` rate (the
share of the split's tokens that are `<unk>`) says how loose. With --lower the text measured is the lowered one.
Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_LOSS = 700.0  # exp(710) overflows a float: a loss this large is a perplexity of "infinity" anyway


def perplexity(loss: float) -> float:
    """exp(mean loss per token); inf for a non-finite or huge loss."""
    return math.exp(loss) if math.isfinite(loss) and loss < MAX_LOSS else math.inf


def bits_per_char(loss: float, tokens: int, chars: int) -> float:
    """A split's total loss in bits (loss x tokens / ln 2) over its characters."""
    return loss * tokens / chars / math.log(2) if chars else math.nan


def split_measures(data: Any, losses: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Per split of `data` (a core.data.Dataset) with a loss: its perplexity, and for running text its bits per
    character (`bpc`) and, for words, the `<unk>` rate. What metrics.json and `eval` write."""
    out: dict[str, dict[str, float]] = {}
    order = ("train", "dev", "test")
    for split in sorted(losses, key=lambda s: order.index(s) if s in order else len(order)):
        loss = losses[split]
        tokens = len(data.Y[split]) if split in data.Y else 0
        if not tokens or loss is None:
            continue
        row = {"perplexity": perplexity(loss)}
        if data.options.text and data.chars.get(split):
            row["bpc"] = bits_per_char(loss, tokens, data.chars[split])
        if data.options.tokens == "words":
            row["unk_rate"] = data.unk.get(split, 0) / tokens
        out[split] = row
    return out


def measures_line(measures: Mapping[str, Mapping[str, float]], lower: bool = False) -> str:
    """One line for the terminal: "perplexity train 96.1  dev 140.2  test 151.0 · bpc train 1.71 ... (a lower bound:
    <unk> train 0.9% ...)"."""
    def row(key: str, form: str) -> str:
        return "  ".join(f"{s} {format(m[key], form)}" for s, m in measures.items() if key in m)

    text = "perplexity " + row("perplexity", ",.2f")
    if any("bpc" in m for m in measures.values()):
        text += f" · bpc{' (lowered text)' if lower else ''} " + row("bpc", ".4f")
        if any("unk_rate" in m for m in measures.values()):
            text += f" (a lower bound: <unk> {row('unk_rate', '.2%')})"
    return text


def chars_per_token(data: Any) -> dict[str, float]:
    """The mean characters per token of each split of running text (its normalised characters, line ends too, over
    its tokens), {} for a word list. run.json stores it (`chars_per_token`), so a run's per-token losses turn into
    bits per character (loss_to_bpc) without its data: the overlays of runs of different token kinds use it. The
    one writer of the ratio for every kind of token (characters, words, BPE)."""
    if not data.options.text:
        return {}
    out: dict[str, float] = {}
    for split, chars in data.chars.items():
        tokens = len(data.Y[split]) if split in data.Y else 0
        if tokens and chars:
            out[split] = chars / tokens
    return out


def loss_to_bpc(loss: float, chars_per_token: float) -> float:
    """A mean loss per token (nats) in bits per character: loss / ln 2 / (characters per token)."""
    return loss / math.log(2) / chars_per_token if chars_per_token > 0 else math.nan

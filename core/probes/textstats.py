"""The dataset view's statistics of tokens: running text, or a word list read as words (core.tokens).

A word list of names is described by its words and characters (core.probes.inspection.dataset_stats); here the
unit is the token. The view shows the vocabulary, how many tokens each split has and what share of them is
`<unk>` (the share bits per character gets free, core.measures), tokens per line, and the most frequent tokens
of the training split, counted from its targets (so `</s>`, one per line, is counted as the model sees it).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import torch

from core.data import SPLITS, Dataset
from core.tokens import UNK

TOP_TOKENS = 30  # the most frequent tokens listed
LENGTH_BINS = 12  # rows of the tokens-per-line histogram at most


def length_bins(lengths: list[int], bins: int = LENGTH_BINS) -> list[tuple[int, int, int]]:
    """(low, high, lines) rows of a histogram of line lengths in tokens, at most `bins` rows of equal width."""
    if not lengths:
        return []
    top = max(lengths)
    step = max(1, -(-(top + 1) // bins))  # ceil: every length from 0 to top in some row
    counts = Counter(n // step for n in lengths)
    return [(b * step, b * step + step - 1, counts.get(b, 0)) for b in range(top // step + 1)]


def token_stats(data: Dataset, top: int = TOP_TOKENS) -> dict[str, Any]:
    """What a dataset of tokens holds, per split and for its vocabulary (plain data for the view)."""
    split = data.vocab.split  # a BPE model's: its tokenizer's
    lines = {s: data.split_words.get(s, []) for s in SPLITS}
    lengths = [len(split(line)) for line in lines["train"]]
    counts = torch.bincount(data.Y["train"], minlength=len(data.vocab))  # (vocab,) every target of train
    order = torch.sort(counts, descending=True, stable=True).indices[:top].tolist()
    train_tokens = max(1, len(data.Y["train"]))
    words = data.options.tokens == "words"
    seen = len({t for line in lines["train"] for t in split(line)}) if words else 0
    longest = max(range(len(lengths)), key=lengths.__getitem__) if lengths else -1
    return {
        "kind": "tokens",
        "source": data.source,
        "options": data.options.to_dict(),
        "label": data.options.label(),
        "vocab_size": len(data.vocab),
        "vocab": list(data.vocab.itos) if data.options.tokens == "chars" else [],  # characters: all; else "common"
        "train_types": seen,  # distinct words of the training split, before min_count
        "lines": data.lines,
        "split_lines": {s: len(v) for s, v in lines.items()},
        "split_tokens": {s: len(data.Y[s]) for s in SPLITS},  # targets: every token and line end
        "unk": {s: data.unk.get(s, 0) for s in SPLITS},
        "chars": dict(data.chars),
        "block_size": data.block_size,
        "mean_tokens": statistics.fmean(lengths) if lengths else 0.0,
        "median_tokens": statistics.median(lengths) if lengths else 0,
        "longest_tokens": lengths[longest] if lengths else 0,
        "longest": lines["train"][longest][:200] if lengths else "",
        "length_bins": length_bins(lengths),
        "common": [(data.vocab.itos[i], int(counts[i]) / train_tokens) for i in order if int(counts[i])],
        "unk_token": UNK if words else "",
        "hint": data.text_hint(),
    }

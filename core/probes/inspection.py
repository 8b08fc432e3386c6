"""Looking inside the model: embedding map, learning-rate finder, name scoring, network health.

Each function works on a model (or a copy of it) and returns plain data, so the training process can
compute it between chunks and send it to the UI. None of them changes the model it is given.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.config import SATURATED, VOWELS, MLPConfig, TrainConfig
from core.data import Dataset, Vocab
from core.link.protocol import EmbeddingMap, Health, LRFind  # noqa: F401  (results the views show)
from core.model import MLP, evaluating
from core.settings import DEFAULTS

__all__ = ["SATURATED", "VOWELS", "dataset_stats", "embedding_map", "health", "lr_find", "pca2", "score"]


# ---- embedding map ----


def pca2(X: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Project the rows of X (N, D) onto its top two principal components: ((N, 2), explained share)."""
    X = X.detach().double()
    Xc = X - X.mean(0, keepdim=True)  # (N, D)
    _, S, Vh = torch.linalg.svd(Xc, full_matrices=False)  # S (min(N, D),), Vh (min(N, D), D)
    k = min(2, Vh.shape[0])
    proj = Xc @ Vh[:k].T  # (N, k)
    if k < 2:
        proj = torch.cat([proj, torch.zeros(len(X), 2 - k, dtype=proj.dtype)], 1)
    var = S.pow(2)
    total = float(var.sum())
    share = float(var[:k].sum()) / total if total > 0 else 1.0
    return proj.float(), share


MAP_TOKENS = 300  # a word model's map: the most frequent tokens sent; the view labels as many of them as fit


def frequent_tokens(vocab_size: int, targets: torch.Tensor, top: int = MAP_TOKENS, seen: bool = False) -> list[int]:
    """The `top` token indices most frequent among `targets` (the training split's), most frequent first (ties
    by index, which for words is the vocabulary's own order by count); `seen`: only tokens that occur (a BPE
    vocabulary has all 256 bytes, most of which an English text never holds alone)."""
    counts = torch.bincount(targets, minlength=vocab_size)  # (vocab,)
    order = torch.sort(counts, descending=True, stable=True).indices[:top]  # (top,) stable: ties keep index order
    return [i for i in order.tolist() if counts[i] > 0] if seen else order.tolist()


def embedding_map(model: MLP, vocab: Vocab, targets: torch.Tensor | None = None, top: int = MAP_TOKENS
                  ) -> EmbeddingMap:
    """Where each character sits: its first two embedding dimensions, or the top two principal components.

    A word model's map (tokens other than characters) shows only the `top` tokens most frequent in `targets`,
    the training split's: thousands of labels do not fit a terminal, and a rare word's row has hardly moved from
    its initialisation. The principal components are those of the rows shown, so the noise of the rare rows does
    not set the axes."""
    C = model.C.detach()  # (vocab, n_embd)
    words = vocab.tokens != "chars"
    ids = (frequent_tokens(len(vocab), targets, top, seen=vocab.tokens == "bpe") if words and targets is not None
           else list(range(len(vocab))))
    if words:
        C = C[ids]  # (shown, n_embd)
    if C.shape[1] <= 2:
        pts = torch.cat([C, torch.zeros(len(C), 2 - C.shape[1])], 1) if C.shape[1] < 2 else C
        share, axes = 1.0, "dims"
    else:
        pts, share = pca2(C)
        axes = "pca"
    points = [(float(x), float(y)) for x, y in pts.tolist()]
    if words:
        return EmbeddingMap("", points, share, axes, [vocab.itos[i] for i in ids], len(vocab))
    return EmbeddingMap("".join(vocab.itos), points, share, axes, vocab_size=len(vocab))


def vowel_spread(C: torch.Tensor, vocab: Vocab) -> tuple[float, float]:
    """(mean distance among vowels, mean distance from vowels to consonants) in embedding space."""
    stoi = vocab.stoi
    vow = [stoi[c] for c in VOWELS if c in stoi]
    con = [i for ch, i in stoi.items() if ch.isalpha() and ch not in VOWELS]
    D = torch.cdist(C.detach()[vow], C.detach())  # (n_vowels, vocab)
    within = D[:, vow]
    n = len(vow)
    among = float(within.sum() / (n * (n - 1))) if n > 1 else math.nan
    return among, float(D[:, con].mean())


# ---- learning-rate finder ----


LR_FIND_STEPS = 1000  # the sweep's steps (the lecture's 1,000), for a model whose step is cheap: every character model
LR_FIND_WORK = LR_FIND_STEPS * 100_000_000  # forward multiply-adds the sweep may cost (the best ensemble's 77M a step
# fits 1,000 steps; bengio's 415M on kjv gets 241, as its 1,000 took about a minute on a loaded machine)
LR_FIND_MIN_STEPS = 200  # fewer, and the curve over three decades is too coarse to read
DIVERGED = 4.0  # the smoothed loss past this many times its lowest: the rest of the range only blows up


def lr_find_steps(config: MLPConfig, batch_size: int) -> int:
    """The sweep's steps for this model: LR_FIND_STEPS, fewer (down to LR_FIND_MIN_STEPS) for a model whose step
    costs more than LR_FIND_WORK / LR_FIND_STEPS multiply-adds (a word model's wide output), so it takes seconds."""
    from core.kernels.threads import step_macs

    macs = step_macs(config, batch_size)
    return max(LR_FIND_MIN_STEPS, min(LR_FIND_STEPS, LR_FIND_WORK // max(1, macs)))


def lr_find(
    model: MLP,
    data: Dataset,
    batch_size: int = DEFAULTS["batch_size"],
    lo: float = 1e-3,
    hi: float = 1.0,
    n: int | None = None,
    seed: int = 0,
    beta: float | None = None,
) -> LRFind:
    """The lecture's experiment: one SGD step at each of n learning rates from lo to hi (exponentially
    spaced), on a fresh copy of the model; the model passed in is never touched. n is lr_find_steps's unless given;
    the EMA's beta keeps a window of n/50 steps (0.98 at 1,000). The sweep stops once the smoothed loss passes
    DIVERGED times its lowest (checked every n/20 steps): the lrs and losses then end there."""
    from core.kernels import make_kernel

    n = lr_find_steps(model.config, batch_size) if n is None else n
    beta = (0.98 if n >= LR_FIND_STEPS else 1 - 20 / n) if beta is None else beta
    work = copy.deepcopy(model)
    lrs = torch.logspace(math.log10(lo), math.log10(hi), n).tolist()
    kernel = make_kernel(work, TrainConfig(batch_size=batch_size))  # plain SGD, on this model's own kernel
    g = torch.Generator().manual_seed(seed)
    ix = torch.randint(0, len(data.Y["train"]), (n, batch_size), generator=g)  # (n, B)
    logp = torch.empty(n, batch_size)
    step = max(1, (1 << 22) // max(1, batch_size * data.block_size))  # gather ~4M indices at a time, not all
    step = min(step, max(1, n // 20))  # and look for a divergence 20 times over the sweep
    done = 0
    while done < n:
        part = ix[done : done + step]  # (k, B)
        xs = data.X["train"][part].view(len(part), -1).unbind(0)  # k x (B*block_size,)
        ys = (data.Y["train"][part] + kernel.row_offset).unbind(0)  # k x (B,)
        kernel.run(xs, ys, logp[done : done + step], lrs[done : done + step])
        done += len(part)
        smoothed = _smooth((-logp[:done].mean(1)).tolist(), beta)
        if smoothed[-1] > DIVERGED * min(smoothed):
            break
    return LRFind(lrs[:done], (-logp[:done].mean(1)).tolist(), smoothed, _steepest(lrs[:done], smoothed))


def _smooth(losses: list[float], beta: float) -> list[float]:
    """The bias-corrected EMA of the losses; a blown-up step keeps the curve drawable."""
    smoothed: list[float] = []
    avg = 0.0
    for i, loss in enumerate(losses):
        if not math.isfinite(loss):
            loss = smoothed[-1] * 4 if smoothed else 1e3
        avg = beta * avg + (1 - beta) * loss
        smoothed.append(avg / (1 - beta ** (i + 1)))
    return smoothed


def _steepest(lrs: list[float], smoothed: list[float]) -> float:
    """The lr where the smoothed loss falls fastest, before it reaches its minimum."""
    n = len(lrs)
    if n < 3:
        return lrs[0]
    end = min(range(n), key=smoothed.__getitem__)  # past the minimum the loss only rises
    skip = max(1, n // 20)  # the EMA's first steps are mostly its warm-up
    lo_i = min(skip, max(0, end - 1))
    span = max(1, n // 10)  # slope over a tenth of the range (0.3 decades here): robust to noise
    best_i, best_slope = lo_i, math.inf
    for i in range(lo_i, max(lo_i + 1, end - span)):
        j = min(i + span, n - 1)
        slope = (smoothed[j] - smoothed[i]) / (math.log10(lrs[j]) - math.log10(lrs[i]))
        if slope < best_slope:
            best_i, best_slope = (i + j) // 2, slope
    return lrs[best_i]


# ---- scoring ----
@dataclass(frozen=True)
class Position:
    context: str
    char: str  # the character that came next ('.' for the end)
    prob: float
    alternatives: list[tuple[str, float]]  # the most likely next characters


@dataclass(frozen=True)
class Score:
    text: str
    positions: list[Position]
    nll: float  # total negative log-likelihood (nats)

    @property
    def mean_nll(self) -> float:
        return self.nll / max(1, len(self.positions))


class ScoreError(ValueError):
    """The text has characters the model never saw."""


@torch.no_grad()
def score(model: MLP, vocab: Vocab, text: str, top: int = 3) -> Score:
    """The probability the model gives each next character of `text` and then the end of the word."""
    stoi = vocab.stoi
    unknown = sorted({c for c in text if c not in stoi or c == vocab.itos[0]})
    if unknown:
        raise ScoreError(f"not in the vocabulary: {' '.join(repr(c) for c in unknown)}")
    T = model.config.block_size
    ids = [stoi[c] for c in text] + [0]
    ctx = [0] * T
    rows = []
    for i in ids:
        rows.append(list(ctx))
        ctx = ctx[1:] + [i]
    X = torch.tensor(rows, dtype=torch.long)  # (len+1, block_size)
    Y = torch.tensor(ids)  # (len+1,)
    with evaluating(model):
        logits, _ = model(X)  # (len+1, vocab)
    logp = F.log_softmax(logits, 1)  # (len+1, vocab)
    lp = logp.gather(1, Y[:, None]).squeeze(1)  # (len+1,)
    k = min(top, logp.shape[1])
    tops = logp.topk(k, 1)
    positions = []
    for r, (row, y) in enumerate(zip(rows, ids)):
        alts = [(vocab.itos[j], math.exp(v)) for v, j in zip(tops.values[r].tolist(), tops.indices[r].tolist())]
        positions.append(Position(vocab.decode(row).rjust(T, "."), vocab.itos[y], math.exp(lp[r].item()), alts))
    return Score(text, positions, float(-lp.sum()))


# ---- network health ----


def saturation(h: torch.Tensor, threshold: float = SATURATED) -> tuple[float, int]:
    """(share of |h| > threshold, units saturated on every row) for hidden activations h (B, n_hidden)."""
    sat = h.abs() > threshold  # (B, n_hidden)
    return float(sat.float().mean()), int(sat.all(0).sum())


def health(
    model: MLP,
    X: torch.Tensor,
    Y: torch.Tensor,
    lr: float,
    step: int = 0,
    bins: int = 20,
    adam: dict | None = None,
    betas: tuple[float, float] = (DEFAULTS["beta1"], DEFAULTS["beta2"]),
) -> Health:
    """Activations, gradients and update sizes on one batch (X (B, block_size), Y (B,)), as makemore
    part 3 plots them. Works on a copy: the model's weights, grads and batch-norm statistics stay as they are.

    The update of a parameter is lr * grad for SGD; with AdamW state (`adam`: exp_avg, exp_avg_sq, step)
    it is the step Adam would take, lr * m_hat / (sqrt(v_hat) + eps).
    """
    work = copy.deepcopy(model)
    work.train()
    emb = work.C[X]  # (B, block_size, n_embd)
    layers: list[torch.Tensor] = []
    h = work.hidden(emb, layers)  # (B, n_hidden); layers: each hidden layer's (B*rows, n_hidden)
    logits = work.linear(work.layers[-1], h)  # (B, vocab)
    if work.config.direct:
        logits = logits + emb.view(len(X), -1) @ work.Wd
    loss = F.cross_entropy(logits, Y)
    loss.backward()
    per_layer = []
    for i, a in enumerate(layers):
        a = a.detach()
        s_i, d_i = saturation(a)
        per_layer.append((i + 1, float(a.mean()), float(a.std()), s_i, d_i, a.shape[1]))
    hd = h.detach()
    sat, dead = saturation(hd)
    counts = torch.histc(hd, bins=bins, min=-1.0, max=1.0)  # (bins,)
    edges = torch.linspace(-1.0, 1.0, bins + 1)
    grad_ratio, update_ratio = {}, {}
    for i, (name, p) in enumerate(work.named_parameters()):
        if p.grad is None or p.numel() < 2:
            continue
        dstd = float(p.detach().std())
        gstd = float(p.grad.std())
        if adam is not None and i < len(adam["exp_avg"]):
            t = max(1.0, float(adam["step"]))
            m_hat = adam["exp_avg"][i] / (1 - betas[0] ** t)
            v_hat = adam["exp_avg_sq"][i] / (1 - betas[1] ** t)
            ustd = float((lr * m_hat / (v_hat.sqrt() + 1e-8)).std())
        else:
            ustd = lr * gstd
        grad_ratio[name] = _log10_ratio(gstd, dstd)
        update_ratio[name] = _log10_ratio(ustd, dstd)
    return Health(step, sat, dead, hd.shape[1], edges.tolist(), [int(c) for c in counts.tolist()], grad_ratio,
                  update_ratio, float(loss.detach()), per_layer)


def _log10_ratio(a: float, b: float) -> float:
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        return -math.inf if a == 0 else math.nan
    return math.log10(a / b)


# ---- the dataset ----
def dataset_stats(data: Dataset, top: int = 12) -> dict:
    """What the loaded file holds: words, vocabulary, examples per split, lengths, common characters. Running
    text or words are described by their tokens instead (core.probes.textstats)."""
    from collections import Counter

    if data.options.text or data.options.tokens != "chars":
        from core.probes.textstats import token_stats

        return token_stats(data)

    lengths = Counter(len(w) for w in data.words)
    chars = Counter("".join(data.words))
    n = len(data.words)
    train = data.train_set
    dev = data.split_words.get("dev", [])
    return {
        "source": data.source,
        "words": n,
        "unique_words": len(set(data.words)),
        "lines": data.lines or n,
        "duplicate_lines": (data.lines or n) - len(set(data.words)),
        "dedupe": data.dedupe,
        "dev_in_train": sum(w in train for w in dev),  # dev words that training has already seen
        "dev_words": len(dev),
        "vocab": "".join(data.vocab.itos),
        "split_words": {s: len(ws) for s, ws in data.split_words.items()},
        "examples": {s: len(y) for s, y in data.Y.items()},
        "block_size": data.block_size,
        "lengths": sorted(lengths.items()),
        "mean_length": sum(k * v for k, v in lengths.items()) / n if n else 0.0,
        "longest": max(data.words, key=len) if n else "",
        "common": chars.most_common(top),
        "total_chars": sum(chars.values()),
        "hint": data.text_hint(),  # a word list that looks like running text: suggest --format text
    }

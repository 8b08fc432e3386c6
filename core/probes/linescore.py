"""Scoring a sentence of running text token by token: each token's probability and surprise, its likeliest
alternatives, and the sentence's perplexity and bits per character (the score view of a model of running text).

The sentence is read as a line of the data is: normalised by the model's own rule (core.tokens.normalise), its
words outside the vocabulary read as `<unk>`, started where a line starts (after a line the model writes,
core.probes.sample.line_start, as its samples do) and ended by the line end, which is scored too. Bits per
character count the characters of the normalised line and its line end, as the data's bits per character do;
`<unk>` stands for a whole word, so with `<unk>` in the sentence the figure is a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.data import Vocab
from core.model import MLP, evaluating
from core.probes.inspection import ScoreError
from core.probes.sample import PANE_LINE_TOKENS, line_start
from core.tokens import encode_prompt, normalise


@dataclass(frozen=True)
class TokenScore:
    token: str  # as the sentence has it (normalised); the model read `<unk>` for it when `unk`
    prob: float  # the model's probability of the token it read, given the tokens before
    alternatives: list[tuple[str, float]]  # the likeliest tokens at this position, most likely first
    unk: bool = False

    @property
    def bits(self) -> float:
        """The surprise, -log2 p."""
        return -math.log2(self.prob) if self.prob > 0 else math.inf


@dataclass(frozen=True)
class LineScore:
    line: str  # the normalised sentence
    positions: list[TokenScore]  # one per token, then the line end
    nll: float  # total negative log-likelihood, nats
    chars: int  # characters of the normalised sentence and its line end
    ids: list[int]  # the tokens the model read, without the line end (a prompt to continue the sentence)

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll / max(1, len(self.positions)))

    @property
    def bpc(self) -> float:
        return self.nll / math.log(2) / max(1, self.chars)

    @property
    def unknown(self) -> int:
        return sum(p.unk for p in self.positions)


@torch.no_grad()
def score_line(model: MLP, vocab: Vocab, text: str, lower: bool = False, top: int = 3) -> LineScore:
    """The model's probability of each token of `text` (read as one line of running text) and of its end."""
    try:
        prompt = encode_prompt(text, vocab, lower)
    except ValueError as e:
        raise ScoreError(str(e).replace("the prompt", "the sentence")) from None
    line = normalise(" ".join(text.split()), lower)
    tokens = [*vocab.split(line), vocab.itos[0]]  # as shown: a BPE token with core.bpe.MARK for a space
    ids = [*prompt.ids, 0]
    T = model.config.block_size
    seq = line_start(model, PANE_LINE_TOKENS[vocab.tokens]) + ids
    X = torch.tensor([seq[i : i + T] for i in range(len(ids))], dtype=torch.long)  # (n, block_size)
    Y = torch.tensor(ids, dtype=torch.long)  # (n,)
    with evaluating(model):
        logits, _ = model(X)  # (n, vocab)
    logp = F.log_softmax(logits.double(), 1)  # (n, vocab)
    lp = logp.gather(1, Y[:, None]).squeeze(1)  # (n,)
    tops = logp.topk(min(top, logp.shape[1]), 1)  # (n, top)
    unk = set(prompt.unknown)
    positions = []
    for r, token in enumerate(tokens):
        alts = [(vocab.itos[j], math.exp(v)) for v, j in zip(tops.values[r].tolist(), tops.indices[r].tolist())]
        positions.append(TokenScore(token, math.exp(lp[r].item()), alts, token in unk and r < len(tokens) - 1))
    return LineScore(line, positions, float(-lp.sum()), len(line) + 1, prompt.ids)

"""The nearest-neighbours view's request (app -> training process) and its answer: protocol messages kept apart
from core.link.protocol for its size only; the protocol imports them, so they are P.FindNeighbours and
P.Neighbours like every other message. Torch-free."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FindNeighbours:
    """The k tokens nearest `tokens[0]` by cosine of the embeddings, or, given three, nearest
    tokens[0] - tokens[1] + tokens[2] (an analogy). Tokens are the vocabulary's strings: characters or words."""

    tokens: tuple[str, ...]
    k: int = 10


@dataclass(frozen=True)
class Neighbours:
    """FindNeighbours' answer, computed in the training process: only the top k (token, cosine similarity),
    best first. The embedding table stays there: at |V| 16K it is megabytes, the answer a few hundred bytes."""

    tokens: tuple[str, ...]
    step: int = 0
    found: list = field(default_factory=list)  # (token, similarity), best first
    vocab_size: int = 0
    error: str | None = None  # one line (a token not in the vocabulary, no model yet), shown in the view

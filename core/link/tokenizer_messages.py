"""The tokenizer view's request (app -> training process) and its answer: protocol messages kept apart from
core.link.protocol for its size only; the protocol imports them, so they are P.SplitTokens and P.TokensSplit like
every other message. The view asks the training process because only it holds the tokenizer (a BPE tokenizer's
library is imported there alone, so the app's first frame does not wait for it). Torch-free."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SplitTokens:
    """Split `text` into the current tokenizer's tokens ("": a line of the training split); with `summary`, also
    what the tokenizer makes of the data (core.probes.tokenview.tokenizer_summary), asked once per model."""

    text: str = ""
    summary: bool = False


@dataclass(frozen=True)
class TokensSplit:
    """SplitTokens' answer: the line as the model reads it, its (token, id, unknown) triples, and the summary when
    asked (None otherwise)."""

    text: str
    line: str = ""  # the text normalised as the data is
    tokens: list = field(default_factory=list)  # (token as shown, id, whether it is <unk> / outside the vocabulary)
    summary: dict | None = None
    error: str | None = None  # one line (no model yet, a tokenizer that failed), shown in the view

"""A checkpoint's vocabulary (and a BPE model's tokenizer) held to the data loader's rules: this text is printed in
samples and views, and a model read with another vocabulary than it was trained on would be nonsense. Torch-free."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.data import BOUNDARY
from core.errors import CheckpointError
from core.runs.files import is_refused, safe_text
from core.tokens import LINE_END, TEXT_END, UNK, TextOptions, Vocab, check_problem


def checked_vocab(itos: Any, tokenizer: Any, size: int, damaged: Callable[[str], CheckpointError],
                  options: TextOptions) -> Vocab:
    """The checkpoint's tokens, checked by their kind. Characters: distinct single characters after the boundary;
    words: `</s>`, `<unk>`, then distinct tokens of the word rule; bpe: the tokens its saved tokenizer (core.bpe)
    has, in its order. A tokenizer is refused beside characters or words, and a bpe vocabulary without one."""
    if not isinstance(itos, list) or len(itos) != size:
        raise damaged("the vocabulary does not match the model")
    if options.tokens == "bpe":
        return _bpe_vocab(itos, tokenizer, damaged)
    if tokenizer is not None:
        raise damaged(f"it holds a tokenizer, but its tokens are {options.tokens}, not bpe")
    if options.tokens == "words":
        if itos[:2] != [LINE_END, UNK] or not all(isinstance(t, str) for t in itos) or len(set(itos)) != len(itos):
            raise damaged(f"the vocabulary is not {LINE_END}, {UNK} and distinct words")
        problem = next(((t, p) for t in itos[2:] if (p := check_problem(t) or (
            "control characters" if any(map(is_refused, t)) else None))), None)
        if problem:
            raise damaged(f"the vocabulary holds {problem[1]} ({safe_text(repr(problem[0]), 40)})")
        return Vocab(tuple(itos), "words")
    if not all(isinstance(c, str) and len(c) == 1 for c in itos) or len(set(itos)) != len(itos):
        raise damaged("the vocabulary is not a list of distinct characters")
    boundary = options.boundary(BOUNDARY)
    if itos[0] != boundary or boundary in itos[1:]:
        raise damaged(f"the vocabulary does not start with the boundary token {boundary!r}")
    bad = [c for c in itos[1:] if is_refused(c) or (c == TEXT_END)]  # the loaders' rule: what they refuse
    if bad:
        raise damaged(f"the vocabulary holds control characters ({safe_text(''.join(bad[:5]))})")
    return Vocab(tuple(itos))


def _bpe_vocab(itos: list, tokenizer: Any, damaged: Callable[[str], CheckpointError]) -> Vocab:
    """A BPE model's vocabulary: its tokenizer read back (TokenizerError: damaged, named so), whose tokens as shown
    must be the vocabulary, one for one. Without the library, DataError names the pip command."""
    from core.bpe import BPE, TokenizerError

    if tokenizer is None:
        raise damaged("its tokens are bpe, but it holds no tokenizer")
    try:
        bpe = BPE(tokenizer)
    except TokenizerError as e:
        raise damaged(f"the tokenizer is damaged: {e}") from None
    if tuple(itos) != bpe.itos:
        i = next((i for i, (a, b) in enumerate(zip(itos, bpe.itos)) if a != b), min(len(itos), bpe.size))
        raise damaged(f"the tokenizer does not match the vocabulary ({bpe.size:,} tokens against {len(itos):,}; "
                      f"they differ from token {i:,})")
    return Vocab(bpe.itos, "bpe", bpe)

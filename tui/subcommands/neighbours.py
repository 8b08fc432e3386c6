"""`mlp-tui neighbours`: a saved model's nearest tokens by cosine similarity of their embeddings, or an analogy.

Characters for a character model, words for a word model: whatever the checkpoint's vocabulary holds
(core.probes.neighbours does the math; an ensemble's table is its members' tables side by side)."""

from __future__ import annotations

import argparse

from core.tokens import SPACE_MARK
from tui.subcommands.argtypes import CommandLine, fail, number, path_arg

MAX_K = 1000


def add_parser(cl: CommandLine) -> None:
    p = cl.add("neighbours", run, description="The tokens whose embeddings are nearest a token's (cosine similarity "
               "of the rows of the embedding table C), or the answers to an analogy A - B + C (king - man + woman: "
               "queen). Tokens are the model's own: characters for a character model.")
    p.add_argument("--checkpoint", type=path_arg, required=True, metavar="PATH",
                   help="a run directory or a model.pt written by mlp-tui")
    p.add_argument("token", nargs="?", metavar="WORD", help="the token whose neighbours to list (a BPE model: a word "
                   f"that is one token, read after a space, or a token as shown, {SPACE_MARK} marking a space)")
    p.add_argument("--analogy", nargs=3, metavar=("A", "B", "C"), help="rank the tokens nearest A - B + C instead "
                   "(A, B and C left out)")
    p.add_argument("-k", type=number(int, lambda v: 1 <= v <= MAX_K, f"from 1 to {MAX_K}"), default=10,
                   metavar="K", help="how many to list (default: 10)")


def run(args: argparse.Namespace) -> int:
    from core.probes.neighbours import analogy, nearest
    from core.runs.checkpoint import load_checkpoint
    from core.runs.files import safe_text
    from core.runs.folder import checkpoint_path
    from core.tokens import find_token

    if (args.token is None) == (args.analogy is None):
        fail("give one WORD, or --analogy A B C (see mlp-tui neighbours --help)")
    ckpt = load_checkpoint(checkpoint_path(args.checkpoint))
    itos = ckpt.vocab.itos
    asked = [args.token] if args.token is not None else list(args.analogy)
    ids = []
    for t in asked:  # a BPE model's word is its one token after a space (find_token), or a token as shown
        try:
            i = find_token(ckpt.vocab, t)
        except ValueError as e:
            fail(safe_text(e))
        if i is None:
            fail(f"{t!r} is not in the model's vocabulary ({len(itos):,} tokens: {_sample(itos)})")
        ids.append(i)
    C = ckpt.model.C.detach().double().numpy()  # (V, n_embd): an ensemble's members side by side
    if args.token is not None:
        found, head = nearest(C, ids[0], args.k), f"nearest to {safe_text(repr(args.token))}"
        if itos[ids[0]] != args.token:  # a BPE model's word, read as its token after a space
            head += f" (the token {safe_text(repr(itos[ids[0]]))})"
    else:
        found = analogy(C, *ids, k=args.k)
        a, b, c = (safe_text(repr(t)) for t in asked)
        head = f"nearest to {a} - {b} + {c}"
    if not found:  # every token is one asked about (a model of 2 or 3 tokens): nothing is left to answer with
        fail(f"the model has {len(itos):,} tokens and the question leaves none to answer with")
    width = max((len(safe_text(repr(itos[i]))) for i, _ in found), default=0)
    lines = [f"{head} (cosine similarity of the embeddings, {len(itos):,} tokens):"]
    lines += [f"{rank:>4}  {safe_text(repr(itos[i])):<{width}}  {sim:+.3f}" for rank, (i, sim) in enumerate(found, 1)]
    print("\n".join(lines))
    return 0


def _sample(itos: tuple[str, ...], n: int = 8) -> str:
    """A few of the vocabulary's tokens, to show what it holds."""
    from core.runs.files import safe_text

    shown = " ".join(safe_text(repr(t)) for t in itos[:n])
    return shown + (" ..." if len(itos) > n else "")

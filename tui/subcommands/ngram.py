"""`mlp-tui ngram`: the n-gram baseline of a dataset, as JSON: add-k counts for characters
(core.probes.ngram), interpolated modified Kneser-Ney for words or BPE tokens of running text
(core.probes.knbaseline)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from core import settings
from core.runs.folder import json_safe
from tui.subcommands.argtypes import CommandLine, fail, number
from tui.subcommands.options import setting_type

BLOCK = settings.BY_NAME["block_size"]  # n-1 characters of context: the model's block size, and its range
KN_ORDERS = (2, 5)  # Kneser-Ney's orders here (core.probes.knbaseline.MIN_ORDER, kneser_ney.MAX_ORDER)
LOWER_BOUND = ("a lower bound: a word model is given <unk>'s spelling for free (see unk_rate); the text measured "
               "is the normalised one")


def add_parser(cl: CommandLine) -> None:
    lo, hi, default = int(BLOCK.lo) + 1, int(BLOCK.hi) + 1, BLOCK.default + 1
    p = cl.add("ngram", run, description="The n-gram baseline of a dataset, as JSON. Characters: add-k smoothed "
               "counts (k picked on dev), with the split losses, the share of dev contexts never seen in training and "
               "the table entries used. Words of running text (--format text --tokens words): interpolated modified "
               "Kneser-Ney of order 2 to 5, with perplexity per word, bits per character and its build time; BPE "
               "tokens (--tokens bpe --bpe-vocab N) the same, per token.")
    p.add_argument("--data", default=None, metavar="PATH",
                   help="dataset (default: names; kjv with --format text)")
    for name in ("format", "tokens"):
        s = settings.BY_NAME[name]
        p.add_argument(*s.flags, dest=name, choices=s.choices, default=s.default,
                       help=f"{s.help} (default: {s.default})")
    for name in ("min_count", "bpe_vocab"):
        s = settings.BY_NAME[name]
        p.add_argument(*s.flags, dest=name, type=setting_type(name), default=s.default, metavar="N",
                       help=f"{s.help} (default: {s.default})")
    p.add_argument("--lower", action="store_true", help=settings.BY_NAME["lower"].help)
    p.add_argument("--order", type=number(int, lambda v: lo <= v <= hi, f"from {lo} to {hi}"), default=default,
                   metavar="N", help=f"n: the next token given the previous n-1 (default: {default}, the lecture's "
                                     f"block size {BLOCK.default} + 1; words: {KN_ORDERS[0]} to {KN_ORDERS[1]})")
    p.add_argument("--k", type=number(float, lambda v: 0 < v <= 1e6, "a number above 0"), default=None,
                   metavar="K", help="add-k smoothing of characters (default: the best of a small grid on dev)")
    p.add_argument("--dedupe", action="store_true", help="split by distinct word, as train --dedupe")


def run(args: argparse.Namespace) -> int:
    from core.data import Dataset
    from core.probes.ngram import count_model
    from core.tokens import TextOptions

    options = TextOptions(args.format, args.tokens, int(args.min_count), bool(args.lower), int(args.bpe_vocab))
    data_spec = args.data or ("kjv" if options.text else "names")
    order = args.order
    if options.tokens in ("words", "bpe"):
        if not options.text:
            fail(f"Kneser-Ney is the baseline of running text: give --format text with --tokens {options.tokens} (a "
                 f"word list of {options.tokens} has no n-gram baseline here)")
        if not KN_ORDERS[0] <= order <= KN_ORDERS[1]:
            fail(f"argument --order: Kneser-Ney's order must be from {KN_ORDERS[0]} to {KN_ORDERS[1]}, got {order}")
        if args.k is not None:
            fail(f"argument --k: add-k smoothing is the characters' baseline; {options.tokens} get Kneser-Ney, which "
                 "has no k")
        data = Dataset.load(data_spec, order - 1, dedupe=args.dedupe, options=options)
        out: dict[str, Any] = {"dataset": data.source, "data": options.to_dict(), **kn_report(data, order)}
    else:
        data = Dataset.load(data_spec, order - 1, dedupe=args.dedupe, options=options)
        out = {"dataset": data.source, **count_model(data, args.k).as_dict()}
    print(json.dumps(json_safe(out), indent=2))
    return 0


def kn_report(data: Any, order: int, built: Any = None) -> dict[str, Any]:
    """Kneser-Ney of `order` on data's train stream (or the one `built`), as ngram and eval report it."""
    from core.probes.knbaseline import build_baseline

    out = (built or build_baseline(data, order)).as_dict()
    if data.options.tokens == "words":
        out["bpc_note"] = LOWER_BOUND + ("; lowered with --lower" if data.options.lower else "")
    return out

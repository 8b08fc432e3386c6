"""`mlp-tui ngram`: the counting baseline (core.probes.ngram) of a dataset, as JSON."""

from __future__ import annotations

import argparse
import json

from core import settings
from core.runs.folder import json_safe
from tui.subcommands.argtypes import CommandLine, number

BLOCK = settings.BY_NAME["block_size"]  # n-1 characters of context: the model's block size, and its range


def add_parser(cl: CommandLine) -> None:
    lo, hi, default = int(BLOCK.lo) + 1, int(BLOCK.hi) + 1, BLOCK.default + 1
    p = cl.add("ngram", run, description="The counting baseline: an n-gram model of the data, add-k smoothed (k "
               "picked on dev), with its split losses, the share of dev contexts never seen in training and the "
               "table entries used, as JSON.")
    p.add_argument("--data", default="names", metavar="PATH", help="dataset (default: names)")
    p.add_argument("--order", type=number(int, lambda v: lo <= v <= hi, f"from {lo} to {hi}"), default=default,
                   metavar="N", help=f"n: the next character given the previous n-1 (default: {default}, the "
                                     f"lecture's block size {BLOCK.default} + 1)")
    p.add_argument("--k", type=number(float, lambda v: 0 < v <= 1e6, "a number above 0"), default=None,
                   metavar="K", help="add-k smoothing (default: the best of a small grid on the dev split)")
    p.add_argument("--dedupe", action="store_true", help="split by distinct word, as train --dedupe")


def run(args: argparse.Namespace) -> int:
    from core.data import Dataset
    from core.probes.ngram import count_model

    data = Dataset.load(args.data, args.order - 1, dedupe=args.dedupe)
    out = {"dataset": data.source, **count_model(data, args.k).as_dict()}
    print(json.dumps(json_safe(out), indent=2))
    return 0

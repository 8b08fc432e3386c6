"""`mlp-tui eval`: a saved model's split losses, as JSON on stdout."""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.runs.folder import json_safe
from tui.subcommands.argtypes import CommandLine, fail, path_arg


def add_parser(cl: CommandLine) -> None:
    p = cl.add("eval", run, description="Split losses of a saved model, with each split's perplexity per token "
               "(running text: bits per character too), as JSON on stdout.")
    p.add_argument("--checkpoint", type=path_arg, required=True, metavar="PATH",
                   help="a run directory or a model.pt written by mlp-tui")
    p.add_argument("--data", default=None, metavar="PATH",
                   help="evaluate on this dataset instead of the one the model was trained on")


def load_data_for(ckpt: Any, override: str | None) -> Any:
    """The checkpoint's dataset (or `override`), split as it was for training (bpe: read by its own tokenizer)."""
    from core.data import Dataset

    return Dataset.load(override or ckpt.dataset, ckpt.model_config.block_size, ckpt.split_seed, dedupe=ckpt.dedupe,
                        options=ckpt.options, tokenizer=ckpt.vocab.bpe)


def baselines(model: Any, data: Any) -> dict[str, Any]:
    """A word model of running text: Kneser-Ney of the order matching its context, and the paper's mixture with it
    (the weight fitted on dev); about a second to build on kjv, and one more pass over dev and test."""
    from core.probes import knbaseline
    from core.probes.tokenprobs import token_probs
    from tui.subcommands.ngram import kn_report

    if not knbaseline.applies(data) or not len(data.Y["dev"]):
        return {}
    order = knbaseline.matching_order(data.block_size)
    b = knbaseline.build_baseline(data, order)
    p = {s: token_probs(model, data.X[s], data.Y[s]) for s in knbaseline.HELD if s in b.probs}
    report = kn_report(data, order, b)
    return {"kneser_ney": report, "mixture": knbaseline.mix(b, p, data).as_dict()}


def run(args: argparse.Namespace) -> int:
    from core.data import SPLITS
    from core.measures import split_measures
    from core.model import split_loss
    from core.runs.checkpoint import load_checkpoint
    from core.runs.files import safe_text
    from core.runs.folder import checkpoint_path

    ckpt = load_checkpoint(checkpoint_path(args.checkpoint))
    data = load_data_for(ckpt, args.data)
    if tuple(data.vocab.itos) != tuple(ckpt.vocab.itos):
        extra = sorted(set(data.vocab.itos) - set(ckpt.vocab.itos))
        if extra and ckpt.options.tokens == "words":
            fail(f"{data.source} has another vocabulary of words (a word model reads only its own text's split)")
        if extra:
            fail(f"{data.source} has characters the model never saw: {''.join(extra)[:40]!r}")
        fail(f"{data.source} has a different vocabulary from the model's ({len(data.vocab)} vs {len(ckpt.vocab)})")
    out = {s: split_loss(ckpt.model, data.X[s], data.Y[s]) for s in SPLITS}
    report = {
        "checkpoint": safe_text(args.checkpoint),
        "dataset": safe_text(data.source),
        "dedupe": data.dedupe,
        "data": data.options.to_dict(),
        "step": ckpt.step,
        "params": ckpt.model.num_params(),
        **{f"{s}_loss": v for s, v in out.items()},
        "measures": split_measures(data, out),  # perplexity per split; running text: bpc, and <unk> rate for words
        **baselines(ckpt.model, data),
    }
    print(json.dumps(json_safe(report), indent=2))
    return 0

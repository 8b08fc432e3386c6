"""`mlp-tui tokens`: a line split into the tokens a model reads, with their ids (core.probes.tokenview).

From a saved model (`--checkpoint RUN`: its vocabulary, its tokenizer) or from a data file read with the data
flags (`--data FILE --format text --tokens words`), which also says what the tokenizer makes of the data: the
vocabulary's size and longest tokens, the first merges (BPE), tokens per word and per character."""

from __future__ import annotations

import argparse
import shutil
from types import SimpleNamespace
from typing import Any

from core import settings
from tui.subcommands.argtypes import CommandLine, fail, path_arg
from tui.subcommands.options import setting_type

DATA_SETTINGS = ("format", "tokens", "min_count", "lower", "bpe_vocab")  # those the registry has (bpe_vocab: BPE)


def add_parser(cl: CommandLine) -> None:
    p = cl.add("tokens", run, description="Split a line of text into the tokens a model reads and print them with "
               "their ids (a word the vocabulary lacks is <unk>, marked *). With --data, also the vocabulary's "
               "size, its longest tokens, the first merges (BPE) and tokens per word and per character of the "
               "training split.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=path_arg, metavar="PATH", help="a run directory or a model.pt: its "
                        "vocabulary and tokenizer")
    source.add_argument("--data", metavar="FILE", help="a text file or a built-in dataset (names, surnames, kjv), "
                        "tokenized as the data flags say")
    for name in DATA_SETTINGS:
        s = settings.BY_NAME.get(name)
        if s is None:
            continue
        if s.value_type == "bool":
            p.add_argument(*s.flags, dest=name, action="store_const", const=True, default=None, help=s.help)
        elif s.value_type == "choice":
            p.add_argument(*s.flags, dest=name, choices=s.choices, default=None, help=s.help)
        else:
            p.add_argument(*s.flags, dest=name, type=setting_type(name), default=None, metavar=s.metavar,
                           help=s.help)
    p.add_argument("text", nargs="?", metavar="TEXT", help="the text to split (with --data, default: a line of "
                   "the training split)")


def run(args: argparse.Namespace) -> int:
    from core.probes.tokenview import is_unknown, normalised, split_rows, token_split, tokenizer_summary
    from core.runs.files import safe_text

    given = [s.flag for s in map(settings.BY_NAME.get, DATA_SETTINGS) if s is not None and
             getattr(args, s.name, None) is not None]
    if args.checkpoint is not None and given:
        fail(f"{given[0]} is for --data: a checkpoint's tokens are the ones its model was trained on")
    data = _from_checkpoint(args.checkpoint) if args.checkpoint is not None else _from_data(args)
    summary = tokenizer_summary(data)
    text = args.text if args.text is not None else summary["line"]
    if not text or not text.strip():
        fail("give the TEXT to split (a checkpoint holds no lines of its data)" if args.checkpoint is not None
             else "the text is empty: give some TEXT to split")
    pairs = token_split(data, text)
    if not pairs:
        fail(f"{text!r} is empty once normalised as the data is: give some TEXT to split")
    print(_heading(data, summary))
    print(f"line: {safe_text(normalised(data, text))}")
    unknown = sum(is_unknown(data, t, i) for t, i in pairs)
    note = f"; * {unknown} not in the vocabulary" if unknown else ""
    print(f"{len(pairs):,} tokens, {len(normalised(data, text)):,} characters{note}:")
    width = max(40, shutil.get_terminal_size((100, 24)).columns)
    for top, bottom in split_rows(pairs, width, unknown=lambda t, i: is_unknown(data, t, i)):
        print(safe_text(top))
        print(bottom)
    if args.data is not None:
        print(_facts(summary))
    return 0


def _from_checkpoint(path: Any) -> Any:
    """What token_split needs of a saved model: its data settings, vocabulary and (BPE) tokenizer."""
    from core.runs.checkpoint import load_checkpoint
    from core.runs.folder import checkpoint_path

    ckpt = load_checkpoint(checkpoint_path(path))
    return SimpleNamespace(options=ckpt.options, vocab=ckpt.vocab)  # a BPE checkpoint's tokenizer: ckpt.vocab.bpe


def _from_data(args: argparse.Namespace) -> Any:
    from core.data import Dataset, resolve_dataset
    from core.errors import ConfigError
    from core.tokens import TextOptions

    _, reason = settings.BY_NAME["data"].parse(args.data)
    if reason:
        raise ConfigError(f"--data {args.data}: {reason}")
    values = {name: getattr(args, name, None) for name in DATA_SETTINGS if name in settings.BY_NAME}
    values = {**settings.DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    broken = settings.broken_rules(values)
    if broken:
        raise ConfigError(broken[0][1])
    resolve_dataset(args.data)
    return Dataset.load(args.data, 1, options=TextOptions.from_values(values))


def _heading(data: Any, s: dict) -> str:
    what = {"chars": "characters", "words": "words and punctuation", "bpe": "byte-pair tokens"}.get(s["kind"], "")
    lowered = ", lowered" if s["lower"] else ""
    return f"{s['kind']} ({what}{lowered}) of {s['format']}: {s['size']:,} tokens in the vocabulary"


def _facts(s: dict) -> str:
    """What the tokenizer makes of the training split, its longest tokens and first merges: a few lines."""
    from core.probes.tokenview import shown_token
    from core.runs.files import safe_text

    lines = []
    if s["tokens_per_word"] is not None:
        per_char = s["tokens_per_char"]
        lines.append(f"training split: {s['tokens_per_word']:.3f} tokens per word, {per_char:.3f} tokens per "
                     f"character ({1 / per_char:.2f} characters per token)" if per_char else
                     f"training split: {s['tokens_per_word']:.3f} tokens per word")
    if s["unk"]:
        lines.append(f"<unk>: {s['unk'] / max(1, s['train_tokens']):.2%} of the training split's tokens "
                     f"(words seen fewer than {s['min_count']} times)")
    lines.append("every token is one character" if s["kind"] == "chars" else
                 "longest tokens: " + "  ".join(safe_text(shown_token(t)) for t in s["longest"]))
    if s["merges"]:
        lines.append("first merges: " + "  ".join(f"{safe_text(shown_token(a))}+{safe_text(shown_token(b))}"
                                                  for a, b in s["merges"]))
    return "\n".join(lines)

"""`mlp-tui sample`: words (or lines of running text) from a saved model, one per line, streamed in batches (a
progress bar on a terminal). On a model of running text `--prefix` is a prompt the lines continue."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from core import settings
from tui.subcommands.argtypes import CommandLine, fail, number, path_arg

MAX_SAMPLES = 10**9  # streamed: memory stays at one batch, but a billion lines is ~10 GB of output
TEMPERATURE = settings.BY_NAME["temperature"]
MAX_PREFIX = 200  # characters of --prefix (a name's start, or a prompt of running text)


def add_parser(cl: CommandLine) -> None:
    from tui.subcommands.options import setting_type

    p = cl.add("sample", run, description="Sample words from a saved model, one per line.",
               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", type=path_arg, required=True, metavar="PATH",
                   help="a run directory or a model.pt written by mlp-tui")
    p.add_argument("-n", type=number(int, lambda v: 1 <= v <= MAX_SAMPLES, f"from 1 to {MAX_SAMPLES:,}"),
                   default=20, metavar="N", help="how many words (streamed in batches)")
    p.add_argument("--temperature", type=setting_type("temperature"), default=TEMPERATURE.default, metavar="T",
                   help="below 1: safer, more common words; above 1: wilder; 0: always the likeliest "
                        f"character ({settings.fmt(TEMPERATURE.lo)} to {settings.fmt(TEMPERATURE.hi)})")
    p.add_argument("--seed", type=setting_type("seed"), default=None, metavar="N",
                   help="seed for reproducible samples (default: random)")
    p.add_argument("--prefix", default=None, metavar="TEXT", type=number(str, lambda v: len(v) <= MAX_PREFIX,
                   f"at most {MAX_PREFIX:,} characters"),
                   help="start every word with TEXT; on a model of running text (--format text), a prompt the lines "
                        "continue, read by the model's own rule (words it lacks become <unk>)")
    p.add_argument("--mark", action="store_true",
                   help="mark words that are already in the training split with a '*'")


def run(args: argparse.Namespace) -> int:
    import torch

    from core.errors import DataError
    from core.probes.sample import SampleError, max_tokens, sample_batches
    from core.runs.checkpoint import load_checkpoint
    from core.runs.files import safe_text
    from core.runs.folder import checkpoint_path
    from tui.subcommands.evaluate import load_data_for

    ckpt = load_checkpoint(checkpoint_path(args.checkpoint))
    g = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    prefix, prompt = _start(args.prefix, ckpt)
    train_words: set[str] = set()
    if args.mark:
        try:
            train_words = load_data_for(ckpt, None).train_set
        except DataError as e:
            fail(f"--mark needs the training data: {e}")
    bar = _Bar(args.n, "sampling")
    try:
        for batch in sample_batches(ckpt.model, ckpt.vocab, args.n, g, args.temperature,
                                    max_tokens(ckpt.options), train_words, prefix, prompt, ckpt.options.text):
            sys.stdout.write("".join(safe_text(s.text) + (" *" if s.in_train else "") + "\n" for s in batch))
            bar.advance(len(batch))
    except SampleError as e:
        fail(f"{args.checkpoint}: {e}")
    finally:
        bar.close()
    return 0


def _start(text: str | None, ckpt: Any) -> tuple[str, list[int] | None]:
    """--prefix as the sampler takes it: a name's first characters (prefix), or on a model of running text or
    of words a prompt of token ids; words the vocabulary lacks are said in one line on stderr."""
    from core.runs.files import safe_text
    from core.tokens import encode_prompt

    vocab, options = ckpt.vocab, ckpt.options
    if options.tokens == "chars" and not options.text:  # a word list of characters: the lecture's names
        bad = [c for c in text or "" if c not in vocab.stoi or c == vocab.itos[0]]
        if bad:
            fail(f"--prefix has characters the model does not know: {''.join(sorted(set(bad)))!r}")
        return text or "", None
    if text is None:
        return "", None
    try:
        prompt = encode_prompt(text, vocab, options.lower)
    except ValueError as e:
        fail(f"--prefix: {e}")
    note = prompt.note()
    if note:
        print(f"mlp-tui: note: --prefix: {safe_text(note)}", file=sys.stderr)
    return "", prompt.ids


class _Bar:
    """A progress bar on stderr for long outputs: shown only on a terminal, and only after about a second."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what, self.done = total, what, 0
        self.start = time.monotonic()
        self.progress = None
        self.task = None

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is None and time.monotonic() - self.start > 1.0 and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn(self.what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                     console=Console(stderr=True), transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.what, total=self.total)
        if self.progress is not None:
            self.progress.update(self.task, completed=self.done)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()

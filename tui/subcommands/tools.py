"""The commands that read saved runs and data: sample, eval, runs, export, recipe, ngram (tui/cli.py parses
their flags and calls them; torch is imported inside the ones that need it)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from core.runs.folder import json_safe
from tui.subcommands.argtypes import fail


def _load_data_for(ckpt, override: str | None):
    from core.data import Dataset

    return Dataset.load(override or ckpt.dataset, ckpt.model_config.block_size, ckpt.split_seed, dedupe=ckpt.dedupe)


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from core.errors import DataError
    from core.probes.sample import SampleError, sample_batches
    from core.runs.checkpoint import load_checkpoint
    from core.runs.files import safe_text
    from core.runs.folder import checkpoint_path

    ckpt = load_checkpoint(checkpoint_path(args.checkpoint))
    g = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    bad = [c for c in args.prefix if c not in ckpt.vocab.stoi or c == ckpt.vocab.itos[0]]
    if bad:
        fail(f"--prefix has characters the model does not know: {''.join(sorted(set(bad)))!r}")
    train_words: set[str] = set()
    if args.mark:
        try:
            train_words = _load_data_for(ckpt, None).train_set
        except DataError as e:
            fail(f"--mark needs the training data: {e}")
    bar = _Bar(args.n, "sampling")
    try:
        for batch in sample_batches(ckpt.model, ckpt.vocab, args.n, g, args.temperature, train_words=train_words,
                                    prefix=args.prefix):
            sys.stdout.write("".join(safe_text(s.text) + (" *" if s.in_train else "") + "\n" for s in batch))
            bar.advance(len(batch))
    except SampleError as e:
        fail(f"{args.checkpoint}: {e}")
    finally:
        bar.close()
    return 0


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


def cmd_eval(args: argparse.Namespace) -> int:
    from core.data import SPLITS
    from core.model import split_loss
    from core.runs.checkpoint import load_checkpoint
    from core.runs.files import safe_text
    from core.runs.folder import checkpoint_path

    ckpt = load_checkpoint(checkpoint_path(args.checkpoint))
    data = _load_data_for(ckpt, args.data)
    if tuple(data.vocab.itos) != tuple(ckpt.vocab.itos):
        extra = sorted(set(data.vocab.itos) - set(ckpt.vocab.itos))
        if extra:
            fail(f"{data.source} has characters the model never saw: {''.join(extra)[:40]!r}")
        fail(f"{data.source} has a different vocabulary from the model's ({len(data.vocab)} vs {len(ckpt.vocab)})")
    out = {s: split_loss(ckpt.model, data.X[s], data.Y[s]) for s in SPLITS}
    report = {
        "checkpoint": safe_text(args.checkpoint),
        "dataset": safe_text(data.source),
        "dedupe": data.dedupe,
        "step": ckpt.step,
        "params": ckpt.model.num_params(),
        **{f"{s}_loss": v for s, v in out.items()},
    }
    print(json.dumps(json_safe(report), indent=2))
    return 0


def cmd_recipe(args: argparse.Namespace) -> int:
    from core.recipe import recipe_text
    from core.runs.files import safe_text
    from core.runs.folder import read_info

    info = read_info(args.run)
    values = {"data": info["dataset"], "dedupe": info.get("dedupe", False), **info["model"], **info["train"]}
    values.pop("vocab_size", None)
    name = safe_text(args.run.expanduser().name)
    note = f"mlp-tui recipe of {name} (created {info['created']}, step {info['step']:,})"
    sys.stdout.write(recipe_text(values, note))
    return 0


def cmd_ngram(args: argparse.Namespace) -> int:
    from core.data import Dataset
    from core.probes.ngram import count_model

    data = Dataset.load(args.data, args.order - 1, dedupe=args.dedupe)
    out = {"dataset": data.source, **count_model(data, args.k).as_dict()}
    print(json.dumps(json_safe(out), indent=2))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from core.runs.files import safe_text as t
    from core.runs.folder import default_runs_dir
    from core.runs.listing import list_runs

    root = (args.runs_dir or default_runs_dir()).expanduser()
    runs = list_runs(root)
    if args.study is not None:
        runs = sorted((r for r in runs if r.study == args.study), key=lambda r: r.trial)
    if not runs:
        print(f"no runs in {t(root)}{' of study ' + t(args.study) if args.study else ''}", file=sys.stderr)
        return 0
    print(f"{len(runs)} runs in {t(root)}" + (f" of study {t(args.study)}, by trial" if args.study else
                                                ", newest first"))
    print(f"{'run':<34} {'dataset':<14} {'architecture':<32} {'params':>9} {'steps':>10} {'best dev':>8}  "
          f"{'created':<19} status")
    for r in runs:
        live = f"training now (pid {r.pid})" if r.pid else ("training now" if r.live else "")
        if r.error:
            print(f"{t(r.path.name):<34} damaged: {t(r.error)}{'  ' + live if live else ''}")
            continue
        dev = f"{r.best_dev:.4f}" if math.isfinite(r.best_dev) else "-"
        print(f"{t(r.path.name):<34} {t(r.dataset[:14]):<14} {r.arch:<32} {r.params:>9,} {r.step:>10,} {dev:>8}  "
              f"{t(r.created.replace('T', ' ')):<19} {live or r.status}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from core.runs.files import check_stream, output_file, safe_text
    from core.runs.folder import RUN_FILES, read_info
    from core.runs.listing import export_csv

    read_info(args.run)  # a bad run is refused before FILE is opened
    run = args.run.expanduser()
    protected = [run / name for name in RUN_FILES] + [f for f in run.iterdir() if f.is_file()]
    if args.out is None:
        check_stream(sys.stdout, "stdout", protected)  # `export RUN > RUN/losses.f32` would feed on itself
        n = export_csv(args.run, sys.stdout)
    else:
        with output_file(args.out, protected) as f:  # a temp file renamed into place: a failure keeps the old one
            n = export_csv(args.run, f)
        print(f"wrote {n:,} steps to {safe_text(args.out)}", file=sys.stderr)
    return 0

"""`mlp-tui runs`: the runs in the runs folder, newest first (or a study's trials)."""

from __future__ import annotations

import argparse
import math
import os
import sys

from tui.subcommands.argtypes import CommandLine
from tui.subcommands.options import add_runs_dir


def add_parser(cl: CommandLine) -> None:
    p = cl.add("runs", run, description="List the runs in the runs folder, newest first.")
    add_runs_dir(p)
    p.add_argument("--study", default=None, metavar="NAME", help="only the trials of this sweep's study")


def run(args: argparse.Namespace) -> int:
    from core.errors import MLPTuiError
    from core.runs.files import safe_text as t
    from core.runs.folder import default_runs_dir
    from core.runs.listing import list_runs, perplexity_text

    root = args.runs_dir or default_runs_dir()  # --runs-dir is read by argtypes.path_arg
    found = next((p for p in (root, *root.parents) if os.path.lexists(p)), None)
    if found is not None and not found.is_dir():  # a file is not an empty runs folder: say so, as train does
        raise MLPTuiError(f"--runs-dir {t(root)}: not a folder" + (f" ({t(found)} is a file)" if found != root else ""))
    runs = list_runs(root)
    if args.study is not None:
        runs = sorted((r for r in runs if r.study == args.study), key=lambda r: r.trial)
    if not runs:
        print(f"no runs in {t(root)}{' of study ' + t(args.study) if args.study else ''}", file=sys.stderr)
        return 0
    print(f"{len(runs)} runs in {t(root)}" + (f" of study {t(args.study)}, by trial" if args.study else
                                                ", newest first"))
    print(f"{'run':<34} {'dataset':<14} {'architecture':<32} {'params':>9} {'steps':>10} {'best dev':>8} "
          f"{'dev ppl':>9} {'bpc':>6}  {'created':<19} status")
    for r in runs:
        live = f"training now (pid {r.pid})" if r.pid else ("training now" if r.live else "")
        if r.error:
            print(f"{t(r.path.name):<34} damaged: {t(r.error)}{'  ' + live if live else ''}")
            continue
        dev = f"{r.best_dev:.4f}" if math.isfinite(r.best_dev) else "-"
        ppl, bpc = perplexity_text(r.perplexity), f"{r.bpc:.3f}" if math.isfinite(r.bpc) else "-"
        print(f"{t(r.path.name):<34} {t(r.dataset[:14]):<14} {r.arch:<32} {r.params:>9,} {r.step:>10,} {dev:>8} "
              f"{ppl:>9} {bpc:>6}  "
              f"{t(r.created.replace('T', ' ')):<19} {live or r.status_text}")
    return 0

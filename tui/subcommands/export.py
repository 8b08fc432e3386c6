"""`mlp-tui export RUN`: a run's loss history as CSV."""

from __future__ import annotations

import argparse
import sys

from tui.subcommands.argtypes import CommandLine, path_arg


def add_parser(cl: CommandLine) -> None:
    p = cl.add("export", run, description="A run's loss history as CSV: step, log10 loss, loss, and the split "
               "losses at the steps they were evaluated.")
    p.add_argument("run", type=path_arg, metavar="RUN", help="a run directory")
    p.add_argument("-o", "--out", type=path_arg, default=None, metavar="FILE", help="write here (default: stdout)")


def run(args: argparse.Namespace) -> int:
    from core.runs.files import check_stream, output_file, safe_text
    from core.runs.folder import RUN_FILES, read_info
    from core.runs.listing import export_csv

    read_info(args.run)  # a bad run is refused before FILE is opened
    run = args.run
    protected = [run / name for name in RUN_FILES] + [f for f in run.iterdir() if f.is_file()]
    if args.out is None:
        check_stream(sys.stdout, "stdout", protected)  # `export RUN > RUN/losses.f32` would feed on itself
        n = export_csv(args.run, sys.stdout)
    else:
        with output_file(args.out, protected) as f:  # a temp file renamed into place: a failure keeps the old one
            n = export_csv(args.run, f)
        print(f"wrote {n:,} steps to {safe_text(args.out)}", file=sys.stderr)
    return 0

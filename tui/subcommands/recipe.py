"""`mlp-tui recipe RUN`: a run's settings as a TOML recipe on stdout."""

from __future__ import annotations

import argparse
import sys

from tui.subcommands.argtypes import CommandLine, path_arg


def add_parser(cl: CommandLine) -> None:
    p = cl.add("recipe", run, description="A run's settings as a TOML recipe on stdout, for mlp-tui train --config "
               "FILE (or the app's --config).")
    p.add_argument("run", type=path_arg, metavar="RUN", help="a run directory")


def run(args: argparse.Namespace) -> int:
    from core.recipe import recipe_text
    from core.runs.files import safe_text
    from core.runs.folder import read_info

    info = read_info(args.run)
    values = {"data": info["dataset"], "dedupe": info.get("dedupe", False), **info.get("data", {}), **info["model"],
              **info["train"]}
    values.pop("vocab_size", None)
    name = safe_text(args.run.name)
    note = f"mlp-tui recipe of {name} (created {info['created']}, step {info['step']:,})"
    sys.stdout.write(recipe_text(values, note))
    return 0

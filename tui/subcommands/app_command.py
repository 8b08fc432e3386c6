"""`mlp-tui` with no command: the Textual app (tui/app.py), on the registry's flags, --runs-dir and --storage."""

from __future__ import annotations

import argparse

from core.sweeps.study import DB_NAME
from tui.subcommands.argtypes import CommandLine, fail
from tui.subcommands.options import add_runs_dir, add_training_options, resolve_settings


def add_parser(cl: CommandLine, commands: tuple[str, ...]) -> None:
    """The app's parser (always with the registry's flags: `serve` checks the app's flags with it too)."""
    app = cl.add("app", run, description="Train a character-level MLP language model (Bengio et al. 2003, "
                 f"makemore part 2) live in the terminal. Commands: {', '.join(commands)} (mlp-tui COMMAND --help).")
    add_training_options(app)
    add_runs_dir(app)
    app.add_argument("--storage", default=None, metavar="URL", help="the sweeps view's storage (default: "
                     f"{DB_NAME} in the runs folder; see mlp-tui sweep --help)")


def run(args: argparse.Namespace) -> int:
    try:
        from tui.app import run_app
    except ImportError:
        fail("the app is not built yet; use mlp-tui train / sample / eval / bench")
    if args.runs_dir is None:
        from core.runs.folder import default_runs_dir

        default_runs_dir()  # a $MLP_TUI_RUNS_DIR of ~nobody is one line now, not a traceback at the first save
    values = resolve_settings(args)
    values["preset"] = args.preset  # shown in the preset selector; not a setting itself
    return run_app(values, runs_dir=args.runs_dir, storage=args.storage)

"""`mlp-tui` with no command: the Textual app (tui/app.py), on the registry's flags, --runs-dir and --storage."""

from __future__ import annotations

import argparse
import sys

from core import settings
from core.sweeps.study import DB_NAME
from tui.hosting import served
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


def not_a_terminal() -> str | None:
    """Which of stdin and stdout is not a terminal, if one is not (None: both are, or the app is driven another
    way). Piped (`mlp-tui | tail`) the app would draw out of sight, and its training process would train on
    unseen; textual-serve runs it on pipes by design, having set TEXTUAL_DRIVER to its web driver."""
    if served():
        return None
    for name in ("stdin", "stdout"):
        stream = getattr(sys, name)
        try:
            if stream is None or not stream.isatty():
                return name
        except (ValueError, OSError):  # closed
            return name
    return None


def run(args: argparse.Namespace) -> int:
    try:
        from tui.app import run_app
    except ImportError:
        fail("the app is not built yet; use mlp-tui train / sample / eval / bench")
    if args.runs_dir is None:
        from core.runs.folder import default_runs_dir

        default_runs_dir()  # a $MLP_TUI_RUNS_DIR of ~nobody is one line now, not a traceback at the first save
    values = resolve_settings(args)
    _, reason = settings.BY_NAME["data"].parse(str(values["data"]))
    if reason:  # before the terminal: what the user typed wrong comes first
        fail(f"--data {values['data']}: {reason}")  # fail() makes it safe to print
    stream = not_a_terminal()
    if stream:
        fail(f"{stream} is not a terminal: the app needs one to draw on and read keys from; to train without it, "
             f"use mlp-tui train (same flags)")
    values["preset"] = args.preset  # shown in the preset selector; not a setting itself
    return run_app(values, runs_dir=args.runs_dir, storage=args.storage)

"""The `mlp-tui` command: the Textual app by default, and the headless commands.

Each command is a module of tui/subcommands/ that adds its parser to a CommandLine (tui/subcommands/argtypes.py)
with the function it runs: train, sample, eval (evaluate.py), bench, runs, export, sweep (with sweep show and
sweep export), ngram, neighbours, tokens, recipe, serve, and the app's own flags (app_command.py). The flags several
commands share (one per setting of the registry, --config, --preset, --runs-dir) are in tui/subcommands/options.py.
This module builds the parsers, picks the command and turns errors into one line and an exit status.

torch is imported only inside the commands, so `mlp-tui --help` and the app's first frame are quick.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from core import settings
from tui.subcommands import (
    app_command,
    bench,
    evaluate,
    export,
    neighbours,
    ngram,
    recipe,
    runs,
    sample,
    serve,
    sweep,
    tokens,
    train,
)
from tui.subcommands.argtypes import CommandLine, fail
from tui.subcommands.options import resolve_settings  # noqa: F401  (imported from here by tests and tools)
from tui.subcommands.options import setting_type as _setting  # noqa: F401  (tests parse as a flag does)

COMMANDS = ("train", "sample", "eval", "bench", "runs", "export", "sweep", "ngram", "neighbours", "tokens", "recipe",
            "serve")
DEFAULTS = {k: v for k, v in settings.DEFAULTS.items() if settings.BY_NAME[k].cli and k != "data"}
MODULES = (train, sample, evaluate, bench, runs, export, sweep, ngram, neighbours, tokens, recipe, serve)  # as COMMANDS


def build_parsers(only: str | None = None) -> dict[str, argparse.ArgumentParser]:
    """Every command's parser; with `only`, the registry's ~35 flags go only on that command's (and the
    app's) parser, since building them all costs ~10 ms of the app's first frame."""
    return command_line(only).parsers


def command_line(only: str | None = None) -> CommandLine:
    """Every command's parser and the function it runs (see build_parsers for `only`)."""
    cl = CommandLine(only)
    app_command.add_parser(cl, COMMANDS)
    for module in MODULES:
        module.add_parser(cl)
    return cl


def configs_from_settings(v: dict):
    """(MLPConfig, TrainConfig) from resolved settings; vocab_size is filled in from the data later."""
    from core.config import configs

    return configs(v)


def main(argv: list[str] | None = None) -> int:
    as_process = argv is None  # the installed command, not a test calling main()
    argv = sys.argv[1:] if argv is None else argv
    for name in ("stdout", "stderr"):  # started with `>&-`: write nowhere rather than fail on None
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))
    from core.runs.files import tolerant_streams

    tolerant_streams()  # every line printed from here on, --help and errors too, survives any output encoding
    command = argv[0] if argv and argv[0] in COMMANDS else "app"
    cl = command_line(command)
    parsers = cl.parsers
    if command == "sweep" and len(argv) > 1 and argv[1] in ("show", "export"):
        command, argv = f"sweep {argv[1]}", argv[1:]
    if command == "serve":  # its own flags; the rest are the app's, checked here and passed through
        args, app_argv = parsers["serve"].parse_known_args(argv[1:])
        args.app_args = parsers["app"].parse_args(app_argv)
        args.app_argv = app_argv
    else:
        args = parsers[command].parse_args(argv[1:] if command != "app" else argv)
    from core.errors import MLPTuiError

    kernel = os.environ.get("MLP_TUI_KERNEL", "")
    if kernel.strip().lower() not in ("", "auto", "numba", "torch"):
        fail(f"MLP_TUI_KERNEL={kernel!r}: use torch (the torch kernels), or auto or numba (the compiled step "
             f"where numba is installed)")
    try:
        code = cl.runs[command](args) or 0
        if as_process and command == "train":
            from core.signals import ignore

            # a Ctrl+C pressed again while the run was being saved can land as the process exits: ignore it now
            ignore("SIGINT")
        if command != "app":
            sys.stdout.flush()  # a write error shows here, not as a traceback at exit
        return code
    except MLPTuiError as e:
        fail(str(e))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mlp-tui export RUN | head`: the reader has what it wanted
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as a tool killed by the closed pipe would
    except OSError as e:
        if e.errno in _OUTPUT_ERRNOS:  # `> /dev/full`, a quota, a vanished disk
            _quiet_stdout()
            fail(f"cannot write the output ({e.strerror or e})")
        raise


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT if hasattr(errno, "EDQUOT") else errno.ENOSPC, errno.EFBIG}


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())

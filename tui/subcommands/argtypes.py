"""argparse pieces shared by the command-line modules (tui/cli.py and tui/subcommands/): the table of commands
that each module adds its parser to, one-line errors, and number types that say what they wanted."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn


def error_line(message: str) -> str:
    """Every error of the command line in one form, whichever command and whoever found it (argparse, a setting,
    a file): `mlp-tui: error: ...`; control characters escaped, since a message may quote a file's text."""
    from core.runs.files import safe_text

    return f"mlp-tui: error: {safe_text(message)}"


class Parser(argparse.ArgumentParser):
    """Bad values end in one line on stderr and exit status 2 (argparse would print the usage too); the line
    names the command through its --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, error_line(f"{message} (see {self.prog} --help)") + "\n")


Run = Callable[[argparse.Namespace], int]  # what a command does with its parsed flags: the exit status


@dataclass
class CommandLine:
    """Every command's parser and the function it runs, by name ("app" for no command, "sweep show").

    `only` is the command being run: the registry's ~35 flags go only on its parser (and the app's), since
    building them all costs ~10 ms of the app's first frame; None builds them all (tests, --help checks)."""

    only: str | None = None
    parsers: dict[str, argparse.ArgumentParser] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)

    def add(self, name: str, run: Run, description: str, **kwargs: Any) -> Parser:
        """A new parser for the command `name`, which runs `run`."""
        parser = Parser(prog="mlp-tui" if name == "app" else f"mlp-tui {name}", description=description, **kwargs)
        self.parsers[name], self.runs[name] = parser, run
        return parser

    def wants_settings(self, name: str) -> bool:
        """Whether the command `name` gets the registry's flags in this build."""
        return self.only is None or self.only == name


def number(cast: Callable[[str], float], ok: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """An argparse type: text -> cast(text) if ok(value), else one line saying what was wanted."""

    def parse(text: str) -> float:
        try:
            v = cast(text.replace("_", "") if cast is int else text)
        except ValueError:
            v = None
        if v is None or not ok(v):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return v

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def path_arg(text: str) -> Path:
    """The argparse type of every flag and argument that takes a path: core.runs.files.user_path, so `~bob/x`
    for an unknown user (or an empty path) is one line naming the flag rather than a RuntimeError traceback."""
    from core.runs.files import PathError, user_path

    try:
        return user_path(text)
    except PathError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


path_arg.__name__ = "path"

positive_int = number(int, lambda v: v >= 1, "a positive integer")
thread_count = number(int, lambda v: 1 <= v <= (os.cpu_count() or 1),
                        f"a number of threads from 1 to {os.cpu_count() or 1} (the CPU cores here)")


def fail(message: str, code: int = 2) -> NoReturn:
    print(error_line(message), file=sys.stderr)
    raise SystemExit(code)

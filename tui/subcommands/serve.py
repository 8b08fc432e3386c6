"""`mlp-tui serve`: the app in a browser, on textual-serve (Textualize's own server), for a classroom.

Each browser tab runs its own app process, with its own training process on one torch thread; at most
--max-sessions of them at once (default: the cores here), and a tab past that gets a page that says
so instead of slowing everyone down. Closing a tab quits its app, which saves its run and stops its
trainer; Ctrl+C on serve does that for every tab. There is no authentication: anyone who can reach
the port can use the app, hence loopback by default and a warning for any other address.
"""

from __future__ import annotations

import argparse
import os
import sys

from core import settings
from core.runs.files import safe_text
from tui.subcommands.argtypes import CommandLine, number
from tui.subcommands.options import resolve_settings
from tui.subcommands.webaddr import banner, bind_problem, host_arg, is_loopback, public_url_arg, url_host


def serve(args: argparse.Namespace, app_argv: list[str]) -> int:
    from core.errors import MLPTuiError

    try:
        from tui.subcommands.webserver import make_server
    except ImportError:
        raise MLPTuiError("serve needs textual-serve: pip install 'mlp-tui[serve]'") from None
    problem = bind_problem(args.host, args.port)
    if problem:
        raise MLPTuiError(problem)
    if not is_loopback(args.host):
        print(f"mlp-tui serve: warning: listening on {safe_text(url_host(args.host))}, not loopback; there is no "
              f"authentication, so anyone who can reach port {args.port} can use the app", file=sys.stderr)
    argv = [sys.executable, "-m", "tui.cli", *app_argv]
    make_server(argv, args.host, args.port, args.max_sessions, args.public_url,
                banner(args.host, args.port, args.max_sessions, args.public_url)).serve()
    return 0


def add_parser(cl: CommandLine) -> None:
    """serve's own flags; the rest are the app's, checked with the app's parser and passed through (tui.cli)."""
    p = cl.add("serve", run, description="The app in a browser (textual-serve): each tab its own app and training "
               "process. Every flag of mlp-tui passes through (mlp-tui serve --preset best). No authentication: "
               "anyone who can reach the port can use it.")
    p.add_argument("--host", type=host_arg, default="127.0.0.1", metavar="HOST", help="address to listen on "
                   "(default: 127.0.0.1, this machine only; 0.0.0.0 for every address, a classroom)")
    p.add_argument("--public-url", type=public_url_arg, default=None, metavar="URL",
                   help="the URL students open, when it is not the one their browser already uses "
                   "(behind a proxy: https://example.org/mlp)")
    p.add_argument("--port", type=number(int, lambda v: 1 <= v <= 65535, "a port from 1 to 65535"),
                   default=8000, metavar="PORT", help="port (default: 8000)")
    p.add_argument("--max-sessions", type=number(int, lambda v: v >= 1, "at least 1"),
                   default=os.cpu_count() or 1, metavar="N",
                   help="browser tabs at once, each training on a core (default: the number of cores)")


def run(args: argparse.Namespace) -> int:
    """Check the app's flags once, here (a bad --config now, not in every tab), then serve."""
    from core.errors import ConfigError

    values = resolve_settings(args.app_args)  # a bad --config, now, not in every tab
    _, reason = settings.BY_NAME["data"].parse(str(values["data"]))
    if reason:
        raise ConfigError(f"--data {safe_text(str(values['data']))}: {reason}")
    if args.app_args.runs_dir is None:
        from core.runs.folder import default_runs_dir

        default_runs_dir()  # a $MLP_TUI_RUNS_DIR of ~nobody: one line here, not in every tab
    return serve(args, args.app_argv)

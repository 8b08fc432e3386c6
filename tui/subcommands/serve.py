"""`mlp-tui serve`: the app in a browser, on textual-serve (Textualize's own server), for a classroom.

Each browser tab runs its own app process, with its own training process on one torch thread; at most
--max-sessions of them at once (default: the cores here), and a tab past that gets a page that says
so instead of slowing everyone down. Closing a tab quits its app, which saves its run and stops its
trainer; Ctrl+C on serve does that for every tab. There is no authentication: anyone who can reach
the port can use the app, hence loopback by default and a warning for any other address.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import socket
import sys
from typing import Any

from core import settings
from core.runs.files import safe_text
from tui.subcommands.argtypes import CommandLine, number
from tui.subcommands.options import resolve_settings

BUSY_PAGE = """<!DOCTYPE html><html><head><title>mlp-tui: busy</title></head>
<body style="background:#0c181f;color:#eee;font-family:monospace;padding:3em">
<h1>mlp-tui is busy</h1><p>All {n} session{s} of this server are in use (one per CPU core, so that every model
trains at full speed). Close another tab, or try again in a moment.</p></body></html>"""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(command: str, host: str, port: int, max_sessions: int) -> Any:
    from core.errors import MLPTuiError

    try:
        from aiohttp import web
        from textual_serve.server import Server
    except ImportError:
        raise MLPTuiError("serve needs textual-serve: pip install 'mlp-tui[serve]'") from None

    class MLPServer(Server):
        """textual-serve's server with a cap on the sessions (each one trains a model on a core)."""

        def __init__(self) -> None:
            super().__init__(command, host=host, port=port, title="mlp-tui")
            self.max_sessions = max_sessions
            self.sessions = 0

        async def handle_index(self, request: web.Request) -> Any:
            if self.sessions >= self.max_sessions:
                return web.Response(status=503, content_type="text/html",
                                    text=BUSY_PAGE.format(n=self.max_sessions, s="s" * (self.max_sessions != 1)))
            return await super().handle_index(request)

        async def handle_websocket(self, request: web.Request) -> Any:
            if self.sessions >= self.max_sessions:  # a tab that loaded the page before the last slot went
                ws = web.WebSocketResponse()
                await ws.prepare(request)
                await ws.close(code=1013, message=b"mlp-tui is busy: every session is in use")
                return ws
            self.sessions += 1
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions -= 1

        def initialize_logging(self) -> None:
            import logging

            super().initialize_logging()
            logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # no line per request in a classroom

        async def on_startup(self, app: web.Application) -> None:
            print(f"mlp-tui serve: http://{host}:{port} ({self.max_sessions} session"
                  f"{'s' * (self.max_sessions != 1)} at most; Ctrl+C stops and saves every one)", flush=True)

    return MLPServer()


def port_free(host: str, port: int) -> str | None:
    """Why the port cannot be used, or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            return e.strerror or str(e)
    return None


def serve(args: argparse.Namespace, app_argv: list[str]) -> int:
    from core.errors import MLPTuiError

    problem = port_free(args.host, args.port)
    if problem:
        raise MLPTuiError(f"--port {args.port}: cannot listen on {safe_text(args.host)}:{args.port} ({problem}); "
                          f"give another with --port")
    if not is_loopback(args.host):
        print(f"mlp-tui serve: warning: listening on {safe_text(args.host)}, not loopback; there is no "
              f"authentication, so anyone who can reach port {args.port} can use the app", file=sys.stderr)
    command = shlex.join([sys.executable, "-m", "tui.cli", *app_argv])
    make_server(command, args.host, args.port, args.max_sessions).serve()
    return 0


def add_parser(cl: CommandLine) -> None:
    """serve's own flags; the rest are the app's, checked with the app's parser and passed through (tui.cli)."""
    p = cl.add("serve", run, description="The app in a browser (textual-serve): each tab its own app and training "
               "process. Every flag of mlp-tui passes through (mlp-tui serve --preset best). No authentication: "
               "anyone who can reach the port can use it.")
    p.add_argument("--host", default="127.0.0.1", metavar="HOST", help="address to listen on (default: "
                   "127.0.0.1, this machine only)")
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

"""The server of `mlp-tui serve`: textual-serve's Server and AppService, hardened for a classroom.

What textual-serve does not do, and a classroom needs (each a fault seen with the plain server):
- The page's CSS, JavaScript and websocket URLs are made from the address the browser used (its Host
  header), or from --public-url: not from the listening address, which is 0.0.0.0 in a classroom.
- A client chooses its terminal size; sizes are clamped to MAX_SIZE (a 3000x1000 app grew without bound).
- A tab that has gone, or stops reading, never leaves its app and trainer behind: the app's output is read
  (and dropped) until it ends; it is asked to quit, then its process group gets SIGTERM (app and trainer save
  on it) and SIGKILL. Each app runs in a process group of its own, so this reaches its trainer too, and a
  Ctrl+C in serve's terminal reaches serve alone, which stops every session in order.
- Garbage on the websocket is ignored, not a traceback in serve's log.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.web_runner import GracefulExit
from textual_serve.app_service import AppService
from textual_serve.server import Server

from tui.subcommands.webaddr import clamp_size, url_host

QUIT_GRACE = 5.0  # seconds a session's app has to quit (saving its run) after its tab has gone
TERM_GRACE = 4.0  # seconds after SIGTERM to its process group, before SIGKILL
HOST_HEADER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?$")
BUSY_PAGE = """<!DOCTYPE html><html><head><title>mlp-tui: busy</title></head>
<body style="background:#0c181f;color:#eee;font-family:monospace;padding:3em">
<h1>mlp-tui is busy</h1><p>All {n} session{s} of this server are in use (one per CPU core, so that every model
trains at full speed). Close another tab, or try again in a moment.</p></body></html>"""


def page_base(request: web.Request, public_url: str | None) -> str:
    """Where the browser reaches this server: --public-url, else the Host it asked for, else the address it
    connected to (never the listening address, 0.0.0.0 in a classroom)."""
    if public_url:
        return public_url
    host = request.headers.get("Host", "")
    if not HOST_HEADER.match(host):
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        host = f"{url_host(sockname[0])}:{sockname[1]}" if sockname else "127.0.0.1"
    return f"{request.scheme}://{host}"


class Session(AppService):
    """One tab's app: a process group of its own, its output read to the end, and a stop that cannot hang."""

    def __init__(self, argv: list[str], websocket: web.WebSocketResponse, server: Server) -> None:
        self.argv, self.websocket = argv, websocket
        self.gone = asyncio.Event()  # the tab has gone (or the server is stopping): nothing more goes to it
        self.stopping: asyncio.Future | None = None
        super().__init__(" ".join(argv), write_bytes=self.to_client(websocket.send_bytes),
                         write_str=self.to_client(websocket.send_str), close=self.to_client(websocket.close),
                         download_manager=server.download_manager)

    def to_client(self, send: Any) -> Any:
        """`send`, given up once the tab has gone: a client that stops reading must not stop us reading the app."""
        async def guarded(*args: Any) -> None:
            if self.gone.is_set():
                return
            sending, gone = asyncio.ensure_future(send(*args)), asyncio.ensure_future(self.gone.wait())
            done, _ = await asyncio.wait({sending, gone}, return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if sending not in done:
                sending.cancel()
            elif sending.exception() is not None:  # reset, closed: the tab has gone
                self.gone.set()
        return guarded

    async def start(self, width: int, height: int) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._build_environment(width, height),
            start_new_session=hasattr(os, "killpg"))
        self._stdin = self._process.stdin
        self._task = asyncio.create_task(self.run())

    async def set_terminal_size(self, width: int, height: int) -> None:
        size = clamp_size(width, height)
        if size is not None:
            await super().set_terminal_size(*size)

    async def stop(self) -> None:
        """Quit the app (it saves its run), then SIGTERM and SIGKILL its process group: once, however often asked."""
        if self.stopping is None:
            self.stopping = asyncio.ensure_future(self.end())
        await asyncio.shield(self.stopping)

    async def end(self) -> None:
        self.gone.set()
        if self._task is None or self._process is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        try:
            await asyncio.wait_for(self.send_meta({"type": "quit"}), 1.0)
        except asyncio.TimeoutError:
            pass
        if not await self.ended(QUIT_GRACE):
            self.signal_group(signal.SIGTERM)
            if not await self.ended(TERM_GRACE):
                self.signal_group(getattr(signal, "SIGKILL", signal.SIGTERM))
                await self.ended(TERM_GRACE)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        try:  # the page says "Session ended" (a tab that has gone: closed already)
            await asyncio.wait_for(self.websocket.close(), 2.0)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            pass

    def signal_group(self, sig: int) -> None:
        assert self._process is not None
        try:
            if hasattr(os, "killpg"):
                os.killpg(self._process.pid, sig)
            else:
                self._process.send_signal(sig)
        except ProcessLookupError:
            pass

    async def ended(self, timeout: float) -> bool:
        """Whether the app and everything in its process group (its trainer) ended within `timeout` seconds."""
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._process.returncode is not None:
                try:
                    if hasattr(os, "killpg"):
                        os.killpg(self._process.pid, 0)
                    else:
                        return True
                except ProcessLookupError:
                    return True
            await asyncio.sleep(0.1)
        return False

    async def on_client(self, message: Any) -> Any:
        """One message from the browser; a malformed one is ignored. The reply to a ping, or None."""
        try:
            envelope = json.loads(message.data)
            kind, data = envelope[0], envelope[1]
        except (ValueError, TypeError, IndexError, KeyError):
            return None
        if kind == "stdin" and isinstance(data, str):
            await self.send_bytes(data.encode("utf-8", "replace"))
        elif kind == "resize" and isinstance(data, dict):
            await self.set_terminal_size(data.get("width"), data.get("height"))
        elif kind == "ping":
            return ["pong", data]
        elif kind in ("blur", "focus"):
            await (self.blur() if kind == "blur" else self.focus())
        return None


class MLPServer(Server):
    """The server: a session per websocket, at most `max_sessions`, pages that point where the browser is."""

    def __init__(self, argv: list[str], host: str, port: int, max_sessions: int, public_url: str | None,
                 banner: str) -> None:
        super().__init__(" ".join(argv), host=host, port=port, title="mlp-tui", public_url=public_url)
        self.argv, self.max_sessions, self.banner, self.given_url = argv, max_sessions, banner, public_url
        self.live: set[Session] = set()

    async def handle_index(self, request: web.Request) -> Any:
        import aiohttp_jinja2

        if len(self.live) >= self.max_sessions:
            return web.Response(status=503, content_type="text/html",
                                text=BUSY_PAGE.format(n=self.max_sessions, s="s" * (self.max_sessions != 1)))
        base, router = page_base(request, self.given_url), request.app.router
        font = clamp_size(request.query.get("fontsize", "16"), 1)  # (a font of at most 500 px)
        ws = base.replace("https:", "wss:", 1) if base.startswith("https:") else base.replace("http:", "ws:", 1)
        context = {"font_size": font[0] if font else 16,
                   "app_websocket_url": ws + str(router["websocket"].url_for()),
                   "config": {"static": {"url": base + "/static/"}}, "application": {"name": self.title}}
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=15)
        await ws.prepare(request)
        if len(self.live) >= self.max_sessions:  # a tab that loaded the page before the last slot went
            await ws.close(code=1013, message=b"mlp-tui is busy: every session is in use")
            return ws
        size = clamp_size(request.query.get("width", "80"), request.query.get("height", "24")) or (80, 24)
        session = Session(self.argv, ws, self)
        self.live.add(session)
        try:
            await session.start(*size)
            async for message in ws:
                if message.type == WSMsgType.TEXT and (reply := await session.on_client(message)):
                    await ws.send_json(reply)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            await session.stop()
            self.live.discard(session)
        return ws

    def initialize_logging(self) -> None:
        import logging

        super().initialize_logging()
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # no line per request in a classroom

    async def on_startup(self, app: web.Application) -> None:
        print(self.banner, flush=True)

    async def on_shutdown(self, app: web.Application) -> None:
        """Every session quits and saves, all at once (each within the graces above)."""
        await asyncio.gather(*(s.stop() for s in list(self.live)), return_exceptions=True)

    def serve(self, debug: bool = False) -> None:
        from core.signals import detach_on_hangup, on_event_loop

        def stop(name: str) -> None:
            detach_on_hangup(getattr(signal, name))  # SIGHUP: the terminal has gone; print nothing more to it
            raise GracefulExit()

        self.initialize_logging()
        loop = asyncio.new_event_loop()
        on_event_loop(loop, stop, ("SIGINT", "SIGTERM", "SIGHUP"))
        web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                    print=lambda *args: None, shutdown_timeout=QUIT_GRACE + 2 * TERM_GRACE + 2)


def make_server(argv: list[str], host: str, port: int, max_sessions: int, public_url: str | None,
                banner: str) -> Server:
    """The server of `mlp-tui serve` (tui.subcommands.serve)."""
    return MLPServer(argv, host, port, max_sessions, public_url, banner)

"""mlp-tui serve: the app over textual-serve; --max-sessions refuses a tab past the limit; one-line errors."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TRAINS_ON, assert_cli_error, run_cli

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_refuses_a_session_past_max_sessions_and_saves_on_ctrl_c(tmp_path, words_file):
    aiohttp = pytest.importorskip("aiohttp")
    port = free_port()
    env = {**os.environ, "MLP_TUI_RUNS_DIR": str(tmp_path / "runs")}
    p = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--port", str(port), "--max-sessions", "1",
                          "--data", str(words_file), "--n-hidden", "16", "--steps", str(TRAINS_ON)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"

    async def scenario() -> tuple[int, str, int]:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # until it listens
                try:
                    async with http.get(base + "/") as r:
                        first = r.status
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            assert first == 200
            ws = await http.ws_connect(base + "/ws?width=100&height=30")  # the one session: an app starts
            seen = b""
            deadline = time.monotonic() + 60
            while b"Controls" not in seen and time.monotonic() < deadline:  # the app draws its first frame
                msg = await ws.receive(timeout=60)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    seen += msg.data
            async with http.get(base + "/") as r:
                busy, page = r.status, await r.text()
            while b"running" not in seen and time.monotonic() < deadline:  # the status pane: training has begun
                msg = await ws.receive(timeout=60)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    seen += msg.data
            await asyncio.sleep(2)  # a few seconds of training, then the tab closes: its app saves the run
            await ws.close()
            for _ in range(100):
                async with http.get(base + "/") as r:
                    if r.status == 200:
                        return busy, page, r.status
                await asyncio.sleep(0.1)
            return busy, page, 503

    try:
        busy, page, again = asyncio.run(scenario())
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    assert busy == 503 and "All 1 session of this server are in use" in page
    assert again == 200  # the closed tab freed its slot
    runs = list((tmp_path / "runs").glob("*/run.json"))
    assert runs, "the closed tab's run was not saved"
    assert "Traceback" not in err


def test_serve_errors_are_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, _, err = run_cli(capsys, ["serve", "--port", str(port)])
    assert_cli_error(code, err, "Address already in use")
    code, _, err = run_cli(capsys, ["serve", "--lr", "abc"])  # the app's flags are checked before serving
    assert_cli_error(code, err, "--lr")
    code, _, err = run_cli(capsys, ["serve", "--data", "/nonexistent/words.txt"])
    assert_cli_error(code, err, "no such file")
    code, _, err = run_cli(capsys, ["serve", "--config", "/nonexistent/recipe.toml"])
    assert_cli_error(code, err, "no such file")


def test_serve_host_errors_name_the_host_and_urls_bracket_ipv6(capsys):
    """A host that does not resolve, or is not this machine's, is the host's fault, not the port's; an empty
    one is refused (asyncio would take it as every address); an IPv6 address is printed in brackets."""
    from tui.subcommands.webaddr import banner, is_loopback

    for host, says in [("nosuch.invalid", "no such address or name"), ("192.0.2.1", "not an address of this machine"),
                       ("", "is not a host"), ("a b", "is not a host"), ("\x1b[31m", "is not a host")]:
        code, _, err = run_cli(capsys, ["serve", "--host", host, "--port", "8000"])
        line = assert_cli_error(code, err, "--host", says)
        assert "--port" not in line and "\x1b" not in line
    for url in ("ftp://x", "http://", "http://h:0", "http://h/?q=1", "not a url"):
        code, _, err = run_cli(capsys, ["serve", "--public-url", url])
        assert_cli_error(code, err, "--public-url")
    for host, url in [("::", "http://[::1]:8000"), ("::1", "http://[::1]:8000"), ("0.0.0.0", "http://127.0.0.1:8000")]:
        line = banner(host, 8000, 2, None)
        assert url in line and ":::" not in line and "http://0.0.0.0" not in line
    assert is_loopback("localhost") and is_loopback("::1") and not is_loopback("0.0.0.0")
    assert not is_loopback("nosuch.invalid")

"""mlp-tui serve's faults, on loopback, with a scripted client: pages point where the browser is, sizes are
clamped, and a tab that has gone (or a server killed) leaves no app or trainer behind, its run saved."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import TRAINS_ON

pytest.importorskip("textual_serve")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(tmp_path: Path, words: Path, *flags: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "MLP_TUI_RUNS_DIR": str(tmp_path / "runs")}
    p = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--port", str(port), *flags,
                          "--data", str(words), "--n-hidden", "16", "--steps", str(TRAINS_ON)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return p, port
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise AssertionError(f"serve did not listen: {p.communicate()[1]}")


def stop_serve(p: subprocess.Popen) -> str:
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    try:
        return p.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        return p.communicate()[1]


def get_page(port: int, host_header: str) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": host_header})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent, process group) of a process, or None when it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2])


def descendants(pid: int) -> set[int]:
    found, frontier = set(), {pid}
    while frontier:
        kids = {int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()
                and (s := stat(int(d.name))) is not None and s[1] in frontier}
        frontier = kids - found
        found |= kids
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if (s := stat(p)) is not None and s[0] != "Z"}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wchan(pid: int) -> str:
    """Where in the kernel a process waits (pipe_write: blocked writing to a full pipe)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


def wait_for_session(serve_pid: int) -> set[int]:
    """The pids of the session's app and trainer, once both run."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        procs = descendants(serve_pid)
        if any("multiprocessing" in cmdline(p) and "resource_tracker" not in cmdline(p) for p in procs):
            return procs
        time.sleep(0.2)
    raise AssertionError("no app and trainer started")


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


class RawClient:
    """A websocket client on a bare socket, that reads only when told (a tab that stops reading)."""

    def __init__(self, port: int, query: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET /ws?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                          .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        assert self.buf.startswith(b"HTTP/1.1 101"), self.buf[:200]
        self.buf = self.buf.split(b"\r\n\r\n", 1)[1]

    def send_text(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        head = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126 else
                                bytes([0x80 | 126]) + len(data).to_bytes(2, "big"))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def read_until(self, needle: bytes, seconds: float) -> bytes:
        """Everything read (frames' bytes, headers and all) until `needle` appears."""
        self.sock.settimeout(1)
        deadline = time.monotonic() + seconds
        while needle not in self.buf and time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                continue
            if not chunk:
                break
            self.buf += chunk
        return self.buf

    def alive_until(self, needle: bytes, seconds: float) -> bytes:
        """read_until, as a tab that is there: it says something every second. The server's heartbeat (15 s)
        would otherwise close a client that never answers its pings, while an app still starts on a loaded
        machine: the test would then see the server end a session it closed itself, not a tab that went."""
        deadline = time.monotonic() + seconds
        while needle not in self.buf and time.monotonic() < deadline:
            self.send_text('["focus", null]')
            self.read_until(needle, 1)
        return self.buf

    def drop(self) -> None:
        """Gone without a word: unread data in the buffer makes the close a reset."""
        self.sock.close()


def all_alive_until(clients: list[RawClient], needle: bytes, seconds: float) -> None:
    """alive_until for several tabs at once (one that waited its turn in silence would be closed)."""
    deadline = time.monotonic() + seconds
    while any(needle not in c.buf for c in clients) and time.monotonic() < deadline:
        for c in clients:
            c.alive_until(needle, 0.5)
    assert all(needle in c.buf for c in clients), f"{needle!r} not seen in every tab"


def test_a_page_fetched_by_another_host_points_at_that_host(tmp_path, words_file):
    p, port = start_serve(tmp_path, words_file, "--host", "0.0.0.0", "--max-sessions", "1")
    try:
        page = get_page(port, "192.0.2.7:8123")  # a student's browser, which knows the teacher's machine so
        odd = get_page(port, "evil\"><script>")  # a Host header that is not one: the address connected to
    finally:
        err = stop_serve(p)
    urls = re.findall(r'(?:href|src|data-session-websocket-url)="([^"]+)"', page)
    assert "0.0.0.0" not in page and len(urls) >= 3
    assert {u.split("/")[2] for u in urls if "://" in u and "googleapis" not in u} == {"192.0.2.7:8123"}
    assert "ws://192.0.2.7:8123/ws" in page
    assert "<script>" not in odd.split("<body", 1)[1] and f"ws://127.0.0.1:{port}/ws" in odd
    assert "Traceback" not in err


def test_public_url_is_what_the_page_points_at(tmp_path, words_file):
    p, port = start_serve(tmp_path, words_file, "--public-url", "https://example.org/mlp/")
    try:
        page = get_page(port, f"127.0.0.1:{port}")
    finally:
        err = stop_serve(p)
    assert "wss://example.org/mlp/ws" in page and "https://example.org/mlp/static/js/textual.js" in page
    assert f"127.0.0.1:{port}" not in page and "Traceback" not in err


def screen_size(data: bytes) -> tuple[int, int]:
    """The furthest row and column the app moved the cursor to (CSI row;col H), from its output."""
    cells = [(int(r), int(c)) for r, c in re.findall(rb"\x1b\[(\d+);(\d+)H", data)]
    return max(r for r, _ in cells), max(c for _, c in cells)


def test_a_client_cannot_choose_a_huge_terminal_and_garbage_is_ignored(tmp_path, words_file):
    p, port = start_serve(tmp_path, words_file, "--max-sessions", "1")
    try:
        c = RawClient(port, "width=3000&height=1000")
        procs = wait_for_session(p.pid)
        app = next(x for x in procs if cmdline(x).startswith(f"{sys.executable} -m tui.cli"))
        env = dict(kv.split("=", 1) for kv in Path(f"/proc/{app}/environ").read_text().split("\0") if "=" in kv)
        assert (env["COLUMNS"], env["ROWS"]) == ("500", "200")
        for junk in ("not json", "[]", "{}", '["resize"]', '["resize", {"width": "x"}]', '["stdin", 5]', "[1, 2]",
                     '["resize", {"width": 90000, "height": 90000}]'):
            c.send_text(junk)
        data = c.read_until(b"Controls", 90)
        c.buf = b""
        c.send_text('["stdin", "?"]')  # the help screen: a full redraw at the size the app has now
        data = c.read_until(b"Keys", 30)
        rows, cols = screen_size(data)
        assert rows <= 200 and cols <= 500 and rows > 24
        assert stat(app) is not None  # the garbage ended nothing
        c.drop()
    finally:
        err = stop_serve(p)
    assert "Traceback" not in err, err[-2000:]


def saved_runs(tmp_path: Path) -> list[dict]:
    return [json.loads(f.read_text()) for f in (tmp_path / "runs").glob("*/run.json")
            if (f.parent / "model.pt").exists()]


def test_a_tab_that_stops_reading_then_goes_leaves_nothing_running_and_its_run_saved(tmp_path, words_file):
    """Fails before 022d57b (textual-serve's own AppService): once the tab goes, the server stops reading the
    app's output, and the app stays blocked writing a frame, its trainer beside it, for good."""
    p, port = start_serve(tmp_path, words_file, "--max-sessions", "1")
    try:
        c = RawClient(port, "width=500&height=200")
        c.alive_until(b"running", 120)  # (a live tab: see alive_until)
        procs = wait_for_session(p.pid)
        app = next(x for x in procs if cmdline(x).startswith(f"{sys.executable} -m tui.cli"))
        end = time.monotonic() + 60  # reads nothing while making the app redraw the whole screen: the server's
        while "pipe_write" not in wchan(app) and time.monotonic() < end:  # sends block, the app's pipe fills
            for w in (500, 499):
                c.send_text(json.dumps(["resize", {"width": w, "height": 200}]))
            time.sleep(0.05)
        assert "pipe_write" in wchan(app)  # the app is blocked writing a frame, its trainer lagging
        time.sleep(2)  # (well within the heartbeat: the tab, not the server, ends the connection)
        c.drop()
        left = wait_gone(procs, 15)
        assert not left, [cmdline(x) for x in left]
        assert saved_runs(tmp_path), "the run of the tab that went was not saved"
    finally:
        err = stop_serve(p)
    assert "Traceback" not in err, err[-2000:]


@contextmanager
def two_training_tabs(tmp_path: Path, words: Path) -> Iterator[tuple[subprocess.Popen, set[int]]]:
    """serve with two live tabs, both training and read a while: (the server, its processes once both trained:
    the apps and their trainers). On the way out the tabs go, what is left of those processes is killed and the
    server is stopped, whatever the test did to it."""
    p, port = start_serve(tmp_path, words, "--max-sessions", "2")
    clients: list[RawClient] = []
    procs: set[int] = set()
    try:
        clients = [RawClient(port, "width=100&height=30") for _ in range(2)]
        all_alive_until(clients, b"running", 120)  # the status pane: training (live tabs: no session ends)
        procs |= descendants(p.pid)
        for _ in range(2):  # some training, the tabs reading
            for c in clients:
                c.alive_until(b"\xff\xfe", 1)
        yield p, procs
    finally:
        for c in clients:
            c.drop()
        for x in alive(procs):
            os.kill(x, signal.SIGKILL)
        stop_serve(p)


def test_kill_9_of_serve_leaves_no_session_behind(tmp_path, words_file):
    """Fails before 022d57b: the apps of a server killed outright, and their trainers, ran on."""
    with two_training_tabs(tmp_path, words_file) as (p, procs):
        assert len([x for x in procs if "multiprocessing.spawn" in cmdline(x)]) == 2
        p.kill()
        p.wait()
        left = wait_gone(procs, 15)
        assert not left, [cmdline(x) for x in left]
        assert len(saved_runs(tmp_path)) == 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_serve_stopped_by_a_signal_saves_every_session(tmp_path, words_file, sig):
    with two_training_tabs(tmp_path, words_file) as (p, procs):
        p.send_signal(sig)
        err = p.communicate(timeout=30)[1]
        assert p.returncode == 0 and "Traceback" not in err, err[-2000:]
        assert not wait_gone(procs, 5)
        assert len(saved_runs(tmp_path)) == 2

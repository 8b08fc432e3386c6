"""The app in a real browser: `mlp-tui serve`, the system's Chromium headless, driven over WebDriver.

Uses Chromium and chromedriver from the system's package manager (apt-get install chromium
chromium-driver), never a downloaded one, and speaks the WebDriver protocol directly (JSON over HTTP),
so it needs no Python package of its own. xterm draws on a canvas, so the text is read in the page:
a script put in before the page loads keeps what the app sends over the websocket (what xterm draws),
and the check looks for the panes in it, sends space, and waits to see "paused". It saves a PNG.

    python bench/browser_check.py [--out browser.png] [--port 8123]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDER = r"""
window.__mlp = "";
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  ws.addEventListener("message", async (e) => {
    const data = e.data instanceof Blob ? new Uint8Array(await e.data.arrayBuffer()) : e.data;
    window.__mlp += typeof data === "string" ? data : new TextDecoder().decode(data);
    if (window.__mlp.length > 4e6) window.__mlp = window.__mlp.slice(-2e6);
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("browser.png"))
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        raise SystemExit("needs the system's Chromium and chromedriver: apt-get install chromium chromium-driver")
    port, dport = args.port or free_port(), free_port()
    runs = tempfile.mkdtemp(prefix="mlp-tui-browser-")
    serve = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--port", str(port), "--max-sessions", "1",
                              "--n-hidden", "64"], cwd=ROOT, env={**os.environ, "MLP_TUI_RUNS_DIR": runs},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    chrome = subprocess.Popen([driver, f"--port={dport}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{dport}"
    session = None
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        wait_http(base + "/status")
        opts = {"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                             "--window-size=1400,900"]}  # no sandbox: these machines run as root
        session = call(base, "POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": opts}}})["value"]["sessionId"]
        s = f"/session/{session}"
        call(base, "POST", f"{s}/goog/cdp/execute", {"cmd": "Page.addScriptToEvaluateOnNewDocument",
                                                      "params": {"source": RECORDER}})
        downloads = Path(runs) / "downloads"
        downloads.mkdir()
        call(base, "POST", f"{s}/goog/cdp/execute", {"cmd": "Browser.setDownloadBehavior",
                                                      "params": {"behavior": "allow", "downloadPath": str(downloads)}})
        call(base, "POST", f"{s}/url", {"url": f"http://127.0.0.1:{port}/"})

        def text() -> str:
            raw = call(base, "POST", f"{s}/execute/sync", {"script": "return window.__mlp || ''", "args": []})
            return ANSI.sub("", raw["value"])

        def wait_for(pred, what: str, seconds: float = 60) -> str:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                t = text()
                if pred(t):
                    return t
                time.sleep(0.5)
            raise SystemExit(f"the page never showed {what}")

        t0 = time.monotonic()
        wait_for(lambda t: all(w in t for w in ("Controls", "Split losses", "Samples", "Loss (log10)"))
                          and "running" in t, "the panes and a running model")
        print(f"panes drawn and training after {time.monotonic() - t0:.1f} s: Controls, Loss (log10), "
              f"Split losses, Samples; status 'running'")
        time.sleep(3)
        before = len(text())
        box = call(base, "POST", f"{s}/element", {"using": "css selector", "value": ".xterm-helper-textarea"})
        element = next(iter(box["value"].values()))
        call(base, "POST", f"{s}/element/{element}/value", {"text": " "})
        after = wait_for(lambda t: "paused" in t[before:], "'paused' after space", 30)
        steps = re.findall(r"step ([\d,]+)/", after[before:])
        print(f"space sent: the status line now says 'paused' (at step {steps[-1] if steps else '?'})")
        time.sleep(1.5)
        png = call(base, "GET", f"{s}/screenshot")["value"]
        call(base, "POST", f"{s}/element/{element}/value", {"text": "g"})  # the app's screenshot: a download
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list(downloads.glob("*.svg")):
            time.sleep(0.3)
        got = list(downloads.glob("*.svg"))
        print(f"g: the browser downloaded {got[0].name} ({got[0].stat().st_size:,} bytes of SVG)" if got else
              "g: no SVG was downloaded")
        args.out.write_bytes(base64.b64decode(png))
        print(f"screenshot: {args.out} ({args.out.stat().st_size:,} bytes)")
        return 0
    finally:
        if session:
            try:
                call(base, "DELETE", f"/session/{session}")
            except OSError:
                pass
        chrome.terminate()
        serve.send_signal(signal.SIGINT)
        try:
            serve.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
        saved = list(Path(runs).glob("*/run.json"))
        states = ", ".join(json.loads(r.read_text())["status"] for r in saved)
        print(f"serve stopped; runs saved: {len(saved)} ({states})")
        shutil.rmtree(runs, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""Time from typing `mlp-tui` to its first full frame, and to the first training steps on screen.

Runs the app in a detached tmux terminal (as a person would see it) and polls the screen every 10 ms.
Run:  python bench/first_frame.py [--size 80x24] [--runs 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import time


def capture(name: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout


def one_run(size: str, command: list[str]) -> tuple[float, float]:
    cols, rows = size.split("x")
    name = f"ff-{time.monotonic_ns()}"
    for _attempt in range(3):  # the tmux server of the previous run may still be shutting down
        t0 = time.perf_counter()
        if subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", cols, "-y", rows, *command]).returncode == 0:
            break
        time.sleep(0.3)
    else:
        raise SystemExit("tmux cannot start a session")
    first = steps = float("nan")
    try:
        while time.perf_counter() - t0 < 30:
            screen = capture(name)
            if first != first and "Controls" in screen and "Samples" in screen:
                first = time.perf_counter() - t0
            m = re.search(r"step ([\d,]+)/", screen)
            if m and int(m.group(1).replace(",", "")) > 0:
                steps = time.perf_counter() - t0
                break
            time.sleep(0.01)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    return first, steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", default="80x24")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--command", help="what to start instead of mlp-tui (e.g. another checkout's, to compare)")
    args = p.parse_args()
    if not shutil.which("tmux"):
        raise SystemExit("needs tmux")
    cmd = args.command.split() if args.command else [shutil.which("mlp-tui") or "mlp-tui"]
    results = [one_run(args.size, cmd) for _ in range(args.runs)]
    for i, (f, s) in enumerate(results, 1):
        print(f"run {i}: first frame {f:.2f} s, first training steps on screen {s:.2f} s")
    print(f"median: first frame {statistics.median(r[0] for r in results):.2f} s, "
          f"training visible {statistics.median(r[1] for r in results):.2f} s")


if __name__ == "__main__":
    main()

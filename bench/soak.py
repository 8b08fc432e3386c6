"""Soak test: the app training at full speed for a long time, plot and samples updating; memory must stay flat.

Runs the real `mlp-tui` in a detached tmux terminal (a person's setup), with the run folder in a
temporary directory, and every 30 s prints the resident memory (RSS) of the UI process and of the
training process, and the step count from the screen. Ends with the start and end RSS of each.
Not part of CI.  Run:  python bench/soak.py [--minutes 20] [--size 120x40]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def flat_check(samples: list[tuple[float, float, float]], minutes: float) -> None:
    """The criterion: mean RSS over the last 5 minutes within 10% of minutes 5-10, for each process."""
    if minutes < 15:
        return
    for i, who in ((1, "ui"), (2, "trainer")):
        early = [s[i] for s in samples if 5 <= s[0] < 10]
        late = [s[i] for s in samples if s[0] >= minutes - 5]
        if early and late:
            a, b = sum(early) / len(early), sum(late) / len(late)
            verdict = "flat" if abs(b / a - 1) <= 0.10 else "NOT flat"
            print(f"{who}: minutes 5-10 {a:.1f} MB, last 5 minutes {b:.1f} MB ({b / a - 1:+.1%}): {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--size", default="120x40")
    args = ap.parse_args()
    cols, rows = args.size.split("x")
    name = f"soak-{os.getpid()}"
    runs = tempfile.mkdtemp(prefix="mlp-tui-soak-")
    # a long run: steps far beyond 20 minutes, so it never finishes
    cmd = f"MLP_TUI_RUNS_DIR={runs} mlp-tui --steps 1000000000"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", cols, "-y", rows, cmd], check=True)
    try:
        time.sleep(8)
        shell = int(subprocess.run(["tmux", "list-panes", "-t", name, "-F", "#{pane_pid}"], capture_output=True,
                                   text=True).stdout.split()[0])
        ui = next(p for p in [shell, *children(shell)] if "mlp-tui" in open(f"/proc/{p}/cmdline").read())
        trainer = max(children(ui), key=rss_mb)  # the spawned trainer (the other child is the resource tracker)
        first = None
        samples: list[tuple[float, float, float]] = []  # (minutes, ui RSS, trainer RSS)
        t0 = time.monotonic()
        while True:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True,
                                    text=True).stdout
            m = re.search(r"step ([\d,]+)/", screen)
            step = m.group(1) if m else "?"
            now = (rss_mb(ui), rss_mb(trainer))
            first = first or now
            samples.append(((time.monotonic() - t0) / 60, *now))
            print(f"{(time.monotonic() - t0) / 60:6.1f} min  step {step:>12}  RSS ui {now[0]:7.1f} MB  "
                  f"trainer {now[1]:7.1f} MB", flush=True)
            if time.monotonic() - t0 >= args.minutes * 60:
                break
            time.sleep(30)
        print(f"start RSS: ui {first[0]:.1f} MB, trainer {first[1]:.1f} MB")
        print(f"end RSS:   ui {now[0]:.1f} MB, trainer {now[1]:.1f} MB")
        print(f"change:    ui {now[0] - first[0]:+.1f} MB, trainer {now[1] - first[1]:+.1f} MB")
        flat_check(samples, args.minutes)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", name, "q"])
        time.sleep(2)
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


if __name__ == "__main__":
    main()

"""Training speed inside the app against `mlp-tui train`'s trainer, same recipe, same machine.

Prints steps/s of wall time for: the Trainer run in this process as `mlp-tui train` runs it (its threads
included: an ensemble's members a core each, up to the cores here), and the app (headless, 160x48, rendering
its plot and panes, as a lone app in a terminal) over the same wall-time window, with the trainer in a spawned
process (what the app uses) and in a thread (the alternative); and the ratios. --rounds repeats the three in
turn, so that on a shared machine the ratios are measured interleaved.

Both windows start at the same point of the evaluation schedule (core.engine.session, by training time, the same in
both): after the first scheduled evaluation, at 2 s of training, and WARM_UP seconds. Before, each started WARM_UP
wall seconds after its first step, which put most of the `best` ensemble's first scheduled evaluation (2.7 s) inside
the app's window and none of it inside train's: a tenth of the 0.78 measured. Each line says how many evaluations
its window held and, for the app with its trainer in a process, the CPU (in cores) of the UI process and of the
training process (/proc), which is where the app's share goes. Both save their run as they do for real, in a
temporary folder: train's loop here used to save nothing, while the app wrote the checkpoint every 5 s.
Run:  python bench/app_speed.py [--preset NAME] [--seconds 20] [--rounds 1] [--no-thread]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import core  # noqa: F401
from core.data import Dataset
from core.engine.session import Session
from core.engine.train import TrainConfig, Trainer
from core.link.transport import TrainerProcess, TrainerThread
from core.model import MLPConfig
from core.runs.writer import RunWriter
from core.settings import PRESETS, resolve, values_for
from tui.app import MLPApp

WARM_UP = 3.0  # seconds of training before measuring: past the first evaluation, samples and compilation


def preset_values(preset: str) -> dict:
    """The preset's settings on the built-in names, long enough never to end while measured."""
    return {**resolve({"data": "names"}, preset), "temperature": 1.0, "steps": 10**9, "minutes": None}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli_rate(seconds: float, preset: str) -> tuple[float, int, float]:
    """Steps per wall second of a Session as `mlp-tui train` runs it (without its progress bar): one torch thread,
    an ensemble's members a core each up to the cores here (train's default --threads); the evaluations in the
    window and the process's CPU in cores."""
    import torch

    v = preset_values(preset)
    mcfg, tcfg = MLPConfig(**values_for("model", v)), TrainConfig(**values_for("train", v))
    data = Dataset.load("names", mcfg.block_size)
    trainer = Trainer(data, mcfg, tcfg)
    trainer.threads = max(1, min(mcfg.members, os.cpu_count() or 1))
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as runs:  # saved as train saves: checkpoints
        writer = RunWriter(None, trainer, origin="cli", root=Path(runs), stem="names")
        try:
            return _cli_window(seconds, trainer, Session(trainer, writer))
        finally:
            writer.close("stopped")


def _cli_window(seconds: float, trainer: Trainer, session: Session) -> tuple[float, int, float]:
    session.evaluate(full=False)  # Session.first_evaluation (this way the bench runs on older trees too)
    session.resume()
    start = time.perf_counter()
    while time.perf_counter() - start < WARM_UP or trainer.evals[-1][0] == 0:  # past the first scheduled one
        session.step_for(0.1)
    s0, t0, e0, c0 = trainer.step, time.perf_counter(), len(trainer.evals), cpu_seconds(os.getpid())
    while time.perf_counter() - t0 < seconds:
        session.step_for(0.1)
    dt = time.perf_counter() - t0
    return (trainer.step - s0) / dt, len(trainer.evals) - e0, (cpu_seconds(os.getpid()) - c0) / dt


async def app_rate(seconds: float, size: tuple[int, int], preset: str, backend=None) -> dict:
    """The app's steps per wall second, the rate its status line showed, its frames, the cores it showed, the
    evaluations in the window and the CPU in cores of this process (the UI's) and of the training process."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as runs:
        return await _app_window(MLPApp(preset_values(preset), backend, runs_dir=Path(runs)), seconds, size)


async def _app_window(app: MLPApp, seconds: float, size: tuple[int, int]) -> dict:
    async with app.run_test(size=size) as pilot:
        while app.snapshot is None or app.snapshot["step"] == 0:
            await pilot.pause(0.1)
        start = time.perf_counter()
        while time.perf_counter() - start < WARM_UP or len(app.dev_points) < 2:  # past the first scheduled one
            await asyncio.sleep(0.1)
        pid = getattr(getattr(app.proc, "process", None), "pid", None) or os.getpid()
        s0, t0, f0, e0 = app.snapshot["step"], time.perf_counter(), app.frames, len(app.dev_points)
        ui0, tr0 = cpu_seconds(os.getpid()), cpu_seconds(pid)
        await asyncio.sleep(seconds)
        s1, t1, f1, e1 = app.snapshot["step"], time.perf_counter(), app.frames, len(app.dev_points)
        dt = t1 - t0
        ui, trainer = (cpu_seconds(os.getpid()) - ui0) / dt, (cpu_seconds(pid) - tr0) / dt
        out = {"rate": (s1 - s0) / dt, "shown": app.snapshot["steps_per_second"], "frames": (f1 - f0) / dt,
               "cores": app.snapshot.get("cores", 1), "evals": e1 - e0, "ui": ui,
               "trainer": trainer if pid != os.getpid() else None}
        app.shutdown()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--preset", default="lecture", choices=list(PRESETS), help="the recipe (default: lecture)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds of each (default: 20)")
    p.add_argument("--rounds", type=int, default=1, help="train, then the app, this many times in turn (default: 1)")
    p.add_argument("--no-thread", action="store_true", help="leave out the app with its trainer in a thread")
    args = p.parse_args()
    backends = [("process", TrainerProcess)] + ([] if args.no_thread else [("thread", TrainerThread)])
    ratios: dict[str, list[float]] = {name: [] for name, _ in backends}
    print(f"--preset {args.preset}, {args.seconds:g} s each, {os.cpu_count()} cores here", flush=True)
    for r in range(args.rounds):
        ref, evals, cpu = cli_rate(args.seconds, args.preset)
        print(f"[{r + 1}] mlp-tui train's loop:            {ref:9,.0f} steps/s (wall; {evals} evaluations in the "
              f"window; CPU {cpu:.2f} cores; load average {os.getloadavg()[0]:.1f})", flush=True)
        for name, backend in backends:
            a = asyncio.run(app_rate(args.seconds, (160, 48), args.preset, backend))
            ratios[name].append(a["rate"] / ref)
            cpu = (f"UI {a['ui']:.2f} + training process {a['trainer']:.2f} cores" if a["trainer"] is not None
                   else f"CPU {a['ui']:.2f} cores")
            cores = f"{a['cores']} core{'s' * (a['cores'] != 1)}"
            print(f"[{r + 1}] app at 160x48, trainer in a {name:7s} {a['rate']:9,.0f} steps/s (wall; status line "
                  f"showed {a['shown']:,.0f} on {cores}; {a['frames']:.1f} frames/s; {a['evals']} evaluations in "
                  f"the window; {cpu})  ratio to train: {a['rate'] / ref:.2f}", flush=True)
    if args.rounds > 1:
        for name, rs in ratios.items():
            print(f"trainer in a {name}: ratio to train, median of {len(rs)}: {statistics.median(rs):.2f} "
                  f"(from {min(rs):.2f} to {max(rs):.2f})")


if __name__ == "__main__":
    main()

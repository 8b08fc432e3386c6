"""Training speed inside the app against `mlp-tui train`'s trainer, same recipe, same machine.

Prints steps/s of wall time for: the Trainer run in this process as `mlp-tui train` runs it (its threads
included: an ensemble's members a core each, up to the cores here), and the app (headless, 160x48, rendering
its plot and panes, as a lone app in a terminal) over the same wall-time window, with the trainer in a spawned
process (what the app uses) and in a thread (the alternative); and the ratios. --rounds repeats the three in
turn, so that on a shared machine the ratios are measured interleaved.
Run:  python bench/app_speed.py [--preset NAME] [--seconds 20] [--rounds 1] [--no-thread]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import core  # noqa: F401
from core.data import Dataset
from core.engine.session import Session
from core.engine.train import TrainConfig, Trainer
from core.link.transport import TrainerProcess, TrainerThread
from core.model import MLPConfig
from core.settings import PRESETS, resolve, values_for
from tui.app import MLPApp

WARM_UP = 3.0  # seconds of training before measuring: past the first evaluation, samples and compilation


def preset_values(preset: str) -> dict:
    """The preset's settings on the built-in names, long enough never to end while measured."""
    return {**resolve({"data": "names"}, preset), "temperature": 1.0, "steps": 10**9, "minutes": None}


def cli_rate(seconds: float, preset: str) -> float:
    """Steps per wall second of a Session as `mlp-tui train` runs it (without its progress bar): one torch thread,
    an ensemble's members a core each up to the cores here (train's default --threads)."""
    import torch

    v = preset_values(preset)
    mcfg, tcfg = MLPConfig(**values_for("model", v)), TrainConfig(**values_for("train", v))
    data = Dataset.load("names", mcfg.block_size)
    trainer = Trainer(data, mcfg, tcfg)
    trainer.threads = max(1, min(mcfg.members, os.cpu_count() or 1))
    torch.set_num_threads(1)
    session = Session(trainer)
    session.evaluate(full=False)  # Session.first_evaluation (this way the bench runs on older trees too)
    session.resume()
    start = time.perf_counter()
    while time.perf_counter() - start < WARM_UP:
        session.step_for(0.1)
    s0, t0 = trainer.step, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        session.step_for(0.1)
    return (trainer.step - s0) / (time.perf_counter() - t0)


async def app_rate(seconds: float, size: tuple[int, int], preset: str, backend=None) -> tuple[float, float, int, int]:
    """The app's steps per wall second, the rate its status line showed, its frames and the cores it showed."""
    app = MLPApp(preset_values(preset), backend)
    async with app.run_test(size=size) as pilot:
        while app.snapshot is None or app.snapshot["step"] == 0:
            await pilot.pause(0.1)
        await asyncio.sleep(WARM_UP)
        s0, t0, f0 = app.snapshot["step"], time.perf_counter(), app.frames
        await asyncio.sleep(seconds)
        s1, t1, f1 = app.snapshot["step"], time.perf_counter(), app.frames
        shown, cores = app.snapshot["steps_per_second"], app.snapshot.get("cores", 1)
        app.shutdown()
    return (s1 - s0) / (t1 - t0), shown, f1 - f0, cores


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
        ref = cli_rate(args.seconds, args.preset)
        print(f"[{r + 1}] mlp-tui train's loop:            {ref:9,.0f} steps/s (wall)", flush=True)
        for name, backend in backends:
            rate, shown, frames, cores = asyncio.run(app_rate(args.seconds, (160, 48), args.preset, backend))
            ratios[name].append(rate / ref)
            print(f"[{r + 1}] app at 160x48, trainer in a {name:7s} {rate:9,.0f} steps/s (wall; status line showed "
                  f"{shown:,.0f} on {cores} core{'s' * (cores != 1)}; {frames / args.seconds:.1f} frames/s)  "
                  f"ratio to train: {rate / ref:.2f}", flush=True)
    if args.rounds > 1:
        for name, rs in ratios.items():
            print(f"trainer in a {name}: ratio to train, median of {len(rs)}: {statistics.median(rs):.2f} "
                  f"(from {min(rs):.2f} to {max(rs):.2f})")


if __name__ == "__main__":
    main()

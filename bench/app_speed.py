"""Training speed inside the app against `mlp-tui train`'s trainer, same recipe, same machine.

Prints steps/s of wall time for: the Trainer run in this process as `mlp-tui train` runs it, and the
app (headless, 160x48, rendering its plot and panes) over the same wall-time window, with the trainer
in a spawned process (what the app uses) and in a thread (the alternative); and the ratios.
Run:  python bench/app_speed.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import core  # noqa: F401
from core.data import Dataset
from core.engine.session import Session
from core.engine.train import TrainConfig, Trainer
from core.link.transport import TrainerProcess, TrainerThread
from core.model import MLPConfig
from core.settings import DEFAULTS
from tui.app import MLPApp


def cli_rate(seconds: float) -> float:
    """Steps per wall second of a Session, the loop `mlp-tui train` uses (without its progress bar)."""
    import torch

    torch.set_num_threads(1)
    data = Dataset.load("names", 3)
    trainer = Trainer(data, MLPConfig(), TrainConfig(steps=10**9))
    session = Session(trainer)
    session.resume()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        session.step_for(0.1)
    return trainer.step / (time.perf_counter() - t0)


async def app_rate(seconds: float, size: tuple[int, int], backend=None) -> tuple[float, float, int]:
    values = {**DEFAULTS, "data": "names", "temperature": 1.0, "steps": 10**9}
    app = MLPApp(values, backend)
    async with app.run_test(size=size) as pilot:
        while app.snapshot is None or app.snapshot["step"] < 5000:  # past start-up
            await pilot.pause(0.1)
        s0, t0, f0 = app.snapshot["step"], time.perf_counter(), app.frames
        await asyncio.sleep(seconds)
        s1, t1, f1 = app.snapshot["step"], time.perf_counter(), app.frames
        shown = app.snapshot["steps_per_second"]
        app.shutdown()
    return (s1 - s0) / (t1 - t0), shown, f1 - f0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    ref = cli_rate(args.seconds)
    print(f"mlp-tui train's loop:            {ref:9,.0f} steps/s (wall)")
    for name, backend in (("process", TrainerProcess), ("thread", TrainerThread)):
        rate, shown, frames = asyncio.run(app_rate(args.seconds, (160, 48), backend))
        print(f"app at 160x48, trainer in a {name:7s} {rate:9,.0f} steps/s (wall; status line showed {shown:,.0f}; "
              f"{frames / args.seconds:.1f} frames/s)  ratio to train: {rate / ref:.2f}")


if __name__ == "__main__":
    main()

"""Training speed inside the app against `mlp-tui train`'s trainer, same recipe, same machine.

Prints steps/s of wall time for: the Trainer run in this process as `mlp-tui train` runs it, and the
app (headless, 160x48, rendering its plot and panes) over the same wall-time window; and the ratio.
Run:  python bench/app_speed.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import core  # noqa: F401
from core.data import Dataset
from core.model import MLPConfig
from core.train import TrainConfig, Trainer
from tui.app import MLPApp
from tui.cli import DEFAULTS


def cli_rate(seconds: float) -> float:
    """Steps per wall second of Trainer.run, the loop `mlp-tui train` uses (without its progress bar)."""
    data = Dataset.load("names", 3)
    trainer = Trainer(data, MLPConfig(), TrainConfig(steps=10**9))
    trainer.on("on_chunk_end", lambda tr, **_: tr.stop() if time.perf_counter() > end else None)
    t0 = time.perf_counter()
    end = t0 + seconds
    trainer.run()
    return trainer.step / (time.perf_counter() - t0)


async def app_rate(seconds: float, size: tuple[int, int]) -> tuple[float, float, int]:
    values = {**{k: v for k, v in DEFAULTS.items()}, "data": "names", "temperature": 1.0, "steps": 10**9}
    app = MLPApp(values)
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
    rate, shown, frames = asyncio.run(app_rate(args.seconds, (160, 48)))
    print(f"mlp-tui train's loop:     {ref:9,.0f} steps/s (wall)")
    print(f"app at 160x48:            {rate:9,.0f} steps/s (wall; the status line showed {shown:,.0f}; "
          f"{frames / args.seconds:.1f} frames/s)")
    print(f"ratio app / train: {rate / ref:.2f}")


if __name__ == "__main__":
    main()

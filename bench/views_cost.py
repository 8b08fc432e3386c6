"""What the inspection views cost the trainer, and what the health view shows at step 1,000.

1. Saturated tanh units at step 1,000 of the default recipe, --init lecture against --init kaiming
   (and each with --batchnorm), measured as the health view measures them.
2. Steps per second of the training process's loop (core.link.pump.Pump, as the app runs it) with no
   view open, and with the health and embedding views open; the ratio must stay above 0.95.
Run:  python bench/views_cost.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import queue
import time

import core  # noqa: F401
from core.data import Dataset
from core.engine.train import TrainConfig, Trainer
from core.link import protocol as P
from core.link.pump import Pump
from core.model import MLPConfig
from core.probes.inspection import health
from core.settings import DEFAULTS


def saturation_at(data: Dataset, init: str, batchnorm: bool, steps: int = 1000) -> float:
    tr = Trainer(data, MLPConfig(init=init, batchnorm=batchnorm), TrainConfig())
    tr.run(steps=steps)
    X, Y = data.X["train"][:512], data.Y["train"][:512]
    return health(tr.model, X, Y, tr.lr, tr.step).saturated


def training_rate(views: list[str], seconds: float) -> float:
    """Steps per wall second of the pump's tick loop (frames, evaluations, samples and views included)."""
    out: queue.Queue = queue.Queue()
    w = Pump(out)
    model = {"block_size": 3, "n_embd": 10, "n_hidden": 200, "init": "lecture", "batchnorm": False}
    train = {k: DEFAULTS[k] for k in ("batch_size", "lr", "lr_decay", "decay_at", "seed")} | {"steps": 10**9}
    w.reset("names", model, train)
    w.handle(P.Watch(tuple(views)))
    for _ in range(50):  # warm up
        w.tick()
    s0, t0 = w.trainer.step, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        w.tick()
        while not out.empty():
            out.get_nowait()
    return (w.trainer.step - s0) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args()
    data = Dataset.load("names", 3)
    for bn in (False, True):
        for init in ("lecture", "kaiming"):
            sat = saturation_at(data, init, bn)
            print(f"step 1,000, init {init:<7} batchnorm {'on ' if bn else 'off'}: {sat:6.1%} saturated tanh units")
    base = training_rate([], args.seconds)
    with_views = training_rate(["health", "embeddings"], args.seconds)
    again = training_rate([], args.seconds)
    ref = (base + again) / 2
    print(f"pump loop, no view open:               {ref:8,.0f} steps/s ({base:,.0f} and {again:,.0f})")
    print(f"pump loop, health + embeddings open:   {with_views:8,.0f} steps/s")
    print(f"ratio: {with_views / ref:.3f}")


if __name__ == "__main__":
    main()

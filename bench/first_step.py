"""Time to the first trained step, inside the training process, for every preset of core.settings.PRESETS.

The app's training process (core.link.pump.Pump, as core.link.transport.training_main runs it) gets a Reset
of the preset on the built-in names; this measures from the model built (Trainer(...) returned) to the
first chunk of steps trained, and its parts: the first evaluation, the first samples, the counting baseline
and the first chunk (which loads the compiled steps from numba's cache); the counting baseline now comes after it
(0 here). Each preset runs in a fresh spawned
process twice, and the second is reported: numba's cache on disk is then warm, as for every launch but the
first after an install. CPU time is the process's own (all its threads): on a loaded machine it tells the
wall time an idle one would take better than the wall time does.
Run:  python bench/first_step.py [--preset NAME ...] [--cores N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import tempfile
import time
from typing import Any


def _timed(owner: Any, name: str, times: dict[str, float], key: str, first: list) -> None:
    """Wrap owner.name so that its calls before the first step add their wall time to times[key]."""
    inner = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            if not first:
                times[key] = times.get(key, 0.0) + time.perf_counter() - t0
    setattr(owner, name, wrapper)


def measure(preset: str, cores: int, out: Any) -> None:
    """In a fresh process: a Pump's reset to the first trained step; puts the parts' seconds on `out`."""
    import torch

    import core  # noqa: F401  (quiets torch's NumPy warning)
    from core import settings
    from core.engine import session, train
    from core.link import pump

    torch.set_num_threads(1)  # as training_main
    times: dict[str, float] = {}
    built: list[float] = []
    first: list[float] = []

    class Timed(train.Trainer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.extend((time.perf_counter(), time.process_time()))

        def train_chunk(self, target: int | None = None) -> bool:
            t0 = time.perf_counter()
            ok = super().train_chunk(target)
            if not first:
                first.extend((time.perf_counter(), time.process_time()))
                times["first chunk"] = first[0] - t0
            return ok

    train.Trainer = Timed  # type: ignore[misc]  # the pump imports it at each reset
    _timed(session.Session, "evaluate", times, "evaluate", first)
    _timed(session.Session, "sample", times, "sample", first)
    _timed(pump.Pump, "counts", times, "counts", first)
    values = settings.resolve({"data": "names"}, preset)
    w = pump.Pump(queue.Queue())
    w.cores = cores
    with tempfile.TemporaryDirectory() as runs:
        w.reset("names", settings.values_for("model", values), settings.values_for("train", values), runs_dir=runs)
        while not first:
            w.tick()
        steps = w.trainer.step
        w.close_run()
    out.put({"total": first[0] - built[0], "cpu": first[1] - built[1], "steps": steps, "cores": w.trainer.cores,
             **times})


def run(preset: str, cores: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    p = ctx.Process(target=measure, args=(preset, cores, out))
    p.start()
    result = out.get(timeout=600)
    p.join()
    return result


def main() -> None:
    from core.settings import PRESETS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", action="append", choices=list(PRESETS), help="one preset (repeatable; default: all)")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="the training process's cores (default: "
                   "all, as a lone app in a terminal)")
    args = p.parse_args()
    print(f"{'preset':<8} {'built->step':>11} {'(CPU)':>6} {'evaluate':>9} {'sample':>7} {'counts':>7} "
          f"{'1st chunk':>9} {'steps':>6} {'cores':>5}")
    for name in args.preset or list(PRESETS):
        run(name, args.cores)  # warms numba's cache on disk for this preset
        r = run(name, args.cores)
        print(f"{name:<8} {r['total']:10.2f}s {r['cpu']:5.2f}s {r.get('evaluate', 0):8.2f}s {r.get('sample', 0):6.2f}s "
              f"{r.get('counts', 0):6.2f}s {r['first chunk']:8.2f}s {r['steps']:6,} {r['cores']:5}", flush=True)


if __name__ == "__main__":
    main()

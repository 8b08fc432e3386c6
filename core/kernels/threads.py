"""How many threads a run trains on: the one rule, asked by whoever starts a run (`mlp-tui train`, the app's
training process, `mlp-tui bench`, a sweep's worker), each with the cores its process may use (`budget`): the
cores here for `train`, `bench` and a lone app in a terminal; one for an app served to a browser tab and for a
sweep's worker, which run beside others, a core each (tui/hosting.py decides the app's).

- An ensemble: a thread per member, up to the cores (core.kernels.members runs its members side by side).
- One model whose step is small (every character model of the lecture and past it): one thread. Torch's second
  thread spins and waits on tiny ops: a small MLP ran 5,300 steps/s on one thread against 3,200 on two, and two
  runs collapsed to under 200 steps/s (ARCHITECTURE.md, "Measured").
- One model whose step multiplies big matrices (a word model's output side): two threads where the machine has a
  second core free. One sgemm of (128 x 288) @ (288 x 512) took 127 us on two threads against 223 us on one on an
  idle machine; on this 2-core machine at a load average of 8-10 (other jobs), the large-vocabulary step ran at
  0.3-0.8x on two threads (they wait on each other), so the rule looks at the load average when the run starts.
"""

from __future__ import annotations

import os

from core.config import MLPConfig

__all__ = ["BIG_STEP_MACS", "cores", "training_threads", "step_macs"]

BIG_STEP_MACS = 16_000_000  # multiply-adds of one step's forward products from which a second thread pays
# (the sgemm above, 128 x 288 x 512, is 18.9M: 1.8x on two threads; 32 x 288 x 512, 4.7M: no gain)


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def step_macs(model: MLPConfig, batch_size: int) -> int:
    """Multiply-adds of one training step's forward products (the backward pass does twice as many)."""
    macs = sum(layer.rows * layer.fan_in * layer.width for layer in model.plan())
    if model.direct:
        macs += model.block_size * model.n_embd * model.vocab_size
    return batch_size * macs


def training_threads(model: MLPConfig, batch_size: int, budget: int | None = None, load: float | None = None) -> int:
    """Threads for a run whose process may use `budget` cores (default: all here; the module's docstring says
    why); `load` is the 1-minute load average (default: the machine's now), which decides whether a second core
    is free for one big model."""
    n = max(1, min(cores(), budget if budget is not None else cores()))
    if model.members > 1:
        return min(model.members, n)
    if n < 2 or step_macs(model, batch_size) < BIG_STEP_MACS:
        return 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
    return 2 if load <= cores() - 1.5 else 1  # another core mostly idle (less than half of one busy)

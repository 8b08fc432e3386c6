"""What a question of the nearest-neighbours view costs the training process, and what crosses the queue.

The view asks about once a second while the model trains; the training process answers between two chunks
(core.link.viewdata.neighbours), so its time is the trainer's. Timed on random float32 tables: the names'
vocabulary, and a word model's |V| 16,383 at 60 dimensions and at 240 (an ensemble of 4 such members).
Run:  python bench/neighbours_cost.py [--runs 21]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time
from types import SimpleNamespace

import torch

import core  # noqa: F401
from core.link import viewdata


def trainer_of(V: int, d: int) -> SimpleNamespace:
    """What viewdata.neighbours reads of a Trainer: its step, vocabulary and table."""
    itos = tuple(f"w{i}" for i in range(V))
    C = torch.randn(V, d, generator=torch.Generator().manual_seed(0))  # (V, d)
    return SimpleNamespace(step=1, data=SimpleNamespace(vocab=SimpleNamespace(itos=itos)),
                           model=SimpleNamespace(C=C))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    torch.set_num_threads(1)  # as in the training process
    for V, d in ((27, 10), (16_383, 60), (16_383, 240)):
        tr = trainer_of(V, d)
        for tokens in (("w5",), ("w5", "w6", "w7")):
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                answer = viewdata.neighbours(tr, tokens, 10)
                times.append(time.perf_counter() - t0)
            what = "nearest" if len(tokens) == 1 else "analogy"
            print(f"|V| {V:>6,} x {d:>3} {what}: median {statistics.median(times) * 1e3:6.2f} ms, best "
                  f"{min(times) * 1e3:6.2f} ms; answer {len(pickle.dumps(answer)):,} B, table {V * d * 4:,} B")


if __name__ == "__main__":
    main()

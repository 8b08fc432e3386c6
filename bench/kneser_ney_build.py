"""How long interpolated modified Kneser-Ney (core.probes.kneser_ney) takes to build, and the memory it peaks at,
on a synthetic Zipf stream the size of the Bengio et al. training set (1M tokens, |V| ~16K).

The tokens are drawn independently, p(rank r) ~ 1/r: with no structure between them, almost every 4- and 5-gram is
distinct, the worst case for the tables. Prints per order: build seconds (median of --repeat), the peak of numpy's
allocations during the build (tracemalloc), the model's own size, the process's peak RSS, and the seconds to score
200K held-out tokens.

    python bench/kneser_ney_build.py [--tokens 1000000] [--vocab 16383] [--orders 2,3,4,5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

import numpy as np


def zipf_stream(n: int, V: int, seed: int = 0) -> np.ndarray:
    """n ids in [0, V), independent, p(r) ~ 1/(r + 1)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, V + 1)
    return rng.choice(V, size=n, p=p / p.sum()).astype(np.int64)


def main() -> None:
    from core.probes.kneser_ney import build

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--vocab", type=int, default=16_383)
    ap.add_argument("--orders", default="2,3,4,5")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    train = zipf_stream(args.tokens, args.vocab)
    held = zipf_stream(200_000, args.vocab, seed=1)
    print(f"{args.tokens:,} training tokens, |V| {args.vocab:,}")
    for order in (int(o) for o in args.orders.split(",")):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            model = build(train, args.vocab, order)
            times.append(time.perf_counter() - t0)
            del model
        tracemalloc.start()
        model = build(train, args.vocab, order)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        t0 = time.perf_counter()
        ppl = model.perplexity(held)
        score = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"order {order}: build {statistics.median(times):6.2f} s (median of {args.repeat}, "
              f"{min(times):.2f}-{max(times):.2f}), peak allocations {peak / 2**20:6.1f} MiB, model "
              f"{model.nbytes / 2**20:6.1f} MiB, process peak RSS {rss:6.0f} MiB; scoring 200K tokens "
              f"{score:5.2f} s (perplexity {ppl:,.0f})")
        del model


if __name__ == "__main__":
    main()

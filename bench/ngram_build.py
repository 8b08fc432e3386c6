"""How long the counting baseline (core.probes.ngram) takes to build on a dataset, per order; the app builds it
in the training process at each reset or load. Prints the seconds and the table's size.

    python bench/ngram_build.py [--data names] [--orders 2,3,4,5,6,9,17]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    from core.data import Dataset
    from core.probes.ngram import count_model

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default="names")
    p.add_argument("--orders", default="2,3,4,5,6,9,17")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    for order in (int(o) for o in args.orders.split(",")):
        data = Dataset.load(args.data, order - 1)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            m = count_model(data)
            times.append(time.perf_counter() - t0)
        print(f"order {order:>3}: {statistics.median(times) * 1000:7.1f} ms (median of {args.repeat}), k {m.k:g}, "
              f"dev {m.losses['dev']:.4f}, {m.used:,} entries used, {m.unseen_dev:.1%} of dev contexts unseen")


if __name__ == "__main__":
    main()

"""A bounded record of per-step training losses (log10), for plots over millions of steps."""

from __future__ import annotations

import torch


class LossHistory:
    """log10 losses, one per `stride` steps; when full, neighbouring pairs merge and the stride doubles.

    Memory is fixed at `capacity` float32 values whatever the run length, and the curve keeps its
    whole span at a resolution that halves only when it has to.
    """

    def __init__(self, capacity: int = 1 << 20):
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number >= 2")
        self.capacity = capacity
        self.values = torch.empty(capacity)  # (capacity,) mean log10 loss of each bucket
        self.stride = 1  # steps per stored value
        self.n = 0  # stored buckets
        self.steps = 0  # steps recorded
        self._pending = torch.empty(0)  # steps not yet making a full bucket at the current stride

    def __len__(self) -> int:
        return self.n

    def append(self, log10_losses: torch.Tensor) -> None:
        """Add the log10 losses of consecutive steps."""
        self.steps += len(log10_losses)
        x = torch.cat([self._pending, log10_losses.float()]) if len(self._pending) else log10_losses.float()
        while len(x):
            full = (len(x) // self.stride) * self.stride
            if full == 0:
                break
            buckets = x[:full].view(-1, self.stride).mean(1)  # (full // stride,)
            room = self.capacity - self.n
            take = min(room, len(buckets))
            self.values[self.n : self.n + take] = buckets[:take]
            self.n += take
            x = x[take * self.stride :]
            if self.n == self.capacity:
                self._compact()
        self._pending = x.clone()

    def _compact(self) -> None:
        half = self.values[: self.n].view(-1, 2).mean(1)  # (n // 2,)
        self.n = len(half)
        self.values[: self.n] = half
        self.stride *= 2

    def series(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(steps, log10 loss) of the stored buckets; a bucket's step is its last step (0-based)."""
        steps = torch.arange(1, self.n + 1) * self.stride - 1  # (n,)
        return steps, self.values[: self.n].clone()

    def downsample(self, width: int, start: int = 0) -> tuple[list[float], list[float]]:
        """At most `width` bucket means of the history from step `start` on, for a plot.

        Read in place (bucket i's step is (i + 1) * stride - 1): the app asks ten times a second, and copying a
        full history (series) took ~25 ms each time, a quarter of the training process's time."""
        first = max(0, -(-(start + 1) // self.stride) - 1)  # the first bucket whose step is >= start
        vals = self.values[first : self.n]  # (m,) a view
        if len(vals) > width > 0:
            k = -(-len(vals) // width)  # ceil
            drop = len(vals) % k  # the oldest few, so the newest bucket is always shown
            lasts = range(first + drop + k - 1, self.n, k)  # each group's last bucket
            return [(i + 1) * self.stride - 1 for i in lasts], vals[drop:].view(-1, k).mean(1).tolist()
        return [(i + 1) * self.stride - 1 for i in range(first, self.n)], vals.tolist()

"""core.engine.history.LossHistory: bounded memory, bucket means, downsampling for plots."""

from __future__ import annotations

import pytest
import torch

from core.engine.history import LossHistory


def test_capacity_must_be_even_and_at_least_two():
    for bad in (0, 1, 3, 17):
        with pytest.raises(ValueError):
            LossHistory(bad)
    assert LossHistory(2).capacity == 2


def test_small_history_keeps_every_step():
    h = LossHistory(64)
    x = torch.linspace(0.5, -0.5, 50)
    h.append(x[:20])
    h.append(x[20:])
    steps, vals = h.series()
    assert len(h) == h.n == 50 and h.stride == 1 and h.steps == 50
    assert steps.tolist() == list(range(50))
    assert torch.equal(vals, x)


def test_memory_is_bounded_over_millions_of_steps():
    h = LossHistory(16)
    total, chunk = 0, 10_000
    seen_n = []
    for _ in range(300):  # 3,000,000 steps
        h.append(torch.full((chunk,), 0.25))
        total += chunk
        seen_n.append(h.n)
        assert h.n <= 16
        assert h.values.numel() == 16  # nothing grows
        assert len(h._pending) < h.stride
    assert h.steps == total == 3_000_000
    assert h.stride >= total // 16  # the stride doubled as needed
    assert h.stride & (h.stride - 1) == 0  # a power of two
    assert h.n * h.stride <= total < (h.n + 1) * h.stride
    _, vals = h.series()
    assert torch.equal(vals, torch.full((h.n,), 0.25))  # constant in, constant out
    assert max(seen_n) <= 16 and min(seen_n[10:]) >= 8


@pytest.mark.parametrize("chunk", [1 << 14, 1000, 7])
def test_bucket_means_of_a_linear_input(chunk):
    N = 1 << 16  # 65,536 steps into 16 buckets
    x = torch.arange(N, dtype=torch.float64) / N  # linear in [0, 1)
    h = LossHistory(16)
    for i in range(0, N, chunk):
        h.append(x[i : i + chunk])
    assert h.steps == N
    steps, vals = h.series()
    s = h.stride
    assert h.n * s == N  # a power of two: nothing left pending
    # bucket j holds steps j*s .. j*s+s-1; its step is the last of them; its value their mean
    assert steps.tolist() == [j * s + s - 1 for j in range(h.n)]
    expected = torch.tensor([(j * s + (s - 1) / 2) / N for j in range(h.n)])
    assert torch.allclose(vals.double(), expected.double(), atol=1e-5)
    assert vals.double().mean().item() == pytest.approx(x.mean().item(), abs=1e-5)


def test_mean_is_preserved_with_a_leftover():
    h = LossHistory(8)
    x = torch.arange(1000, dtype=torch.float32) * 0.001
    h.append(x)
    covered = h.n * h.stride
    assert 1000 - h.stride < covered <= 1000
    assert h.values[: h.n].mean().item() == pytest.approx(x[:covered].mean().item(), abs=1e-5)


def test_downsample_returns_at_most_width_points_with_the_newest():
    h = LossHistory(1 << 12)
    x = torch.linspace(1.0, 0.0, 1000)
    h.append(x)
    all_steps, all_vals = h.series()
    for width in (1, 2, 7, 10, 99, 333, 999):
        steps, vals = h.downsample(width)
        assert 1 <= len(steps) == len(vals) <= width
        assert steps[-1] == 999 == int(all_steps[-1])  # the newest step is always shown
        assert steps == sorted(steps)
    steps, vals = h.downsample(10)
    assert len(steps) == 10
    assert steps == [99 + 100 * i for i in range(10)]
    assert vals == pytest.approx([x[100 * i : 100 * (i + 1)].mean().item() for i in range(10)], abs=1e-6)
    # wide enough: everything, unchanged
    steps, vals = h.downsample(5000)
    assert steps == all_steps.tolist() and vals == all_vals.tolist()


def test_downsample_from_a_start_step():
    h = LossHistory(1 << 12)
    h.append(torch.arange(1000, dtype=torch.float32))
    steps, vals = h.downsample(10, start=900)
    assert steps[0] >= 900 and steps[-1] == 999 and len(steps) == 10
    assert vals == [s - 4.5 for s in steps]  # value = step here; each point the mean of 10 steps
    steps, _ = h.downsample(3, start=900)
    assert len(steps) <= 3 and steps[-1] == 999 and steps[0] >= 900


def test_downsample_after_compaction_keeps_the_newest_bucket():
    h = LossHistory(16)
    for _ in range(50):
        h.append(torch.rand(1234, generator=torch.Generator().manual_seed(0)))
    steps, _ = h.series()
    ds, _ = h.downsample(5)
    assert len(ds) <= 5 and ds[-1] == int(steps[-1])


def test_downsample_reads_in_place_what_the_series_holds():
    """downsample works on the stored buckets in place (the app asks ten times a second, and a full history's copy
    took ~25 ms): the same points as grouping series() from the start step, after any appends and compactions."""
    import random

    def from_series(h: LossHistory, width: int, start: int) -> tuple[list[float], list[float]]:
        steps, vals = h.series()
        keep = steps >= start
        steps, vals = steps[keep], vals[keep]
        if len(vals) > width > 0:
            k = -(-len(vals) // width)
            drop = len(vals) % k
            steps, vals = steps[drop:].view(-1, k)[:, -1], vals[drop:].view(-1, k).mean(1)
        return steps.tolist(), vals.tolist()

    rng = random.Random(1)
    g = torch.Generator().manual_seed(1)
    for capacity in (8, 64, 1024):
        h = LossHistory(capacity)
        for _ in range(120):
            h.append(torch.rand(rng.randint(1, 50), generator=g))
            for width in (0, 1, 3, 10, 50, 5000):
                for start in (0, 1, 5, rng.randint(0, h.steps + 10), h.steps, h.steps + 5):
                    assert h.downsample(width, start) == from_series(h, width, start), (capacity, width, start)
        assert h.stride > 1 or capacity == 1024

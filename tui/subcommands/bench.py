"""`mlp-tui bench`: its flags, and the trainer's speed against the lecture's loop, or any recipe against the plain
PyTorch way of writing it, with the step's matmul floor (core.probes.bench)."""

from __future__ import annotations

import argparse

from core import settings
from tui.subcommands.argtypes import CommandLine, fail, thread_count
from tui.subcommands.options import add_training_options, resolve_settings

# Fewer steps than this and the ratio measures the trainer's start-up (~12 ms: its first chunk), not its speed.
# Measured on the lecture recipe (2 cores, load 4): the trainer ran 800 steps/s over 10 steps, 5,000 over 100,
# 10,500 over 1,000, 11,700 over 3,000 and 11,900 over 10,000, while the lecture loop kept 2,300 from 10 steps on:
# a ratio of 0.4x at 10 steps, 4.6x at 1,000 (12% low), 5.1x at 3,000 (within 3% of the longer runs').
MIN_STEPS = 3_000
# A word model's step takes a tenth of a second, where the start-up stays ~12 ms: its minimum is scaled down by
# its step's multiply-adds against this (core.kernels.threads.step_macs), to at least MIN_BIG_STEPS.
SMALL_STEP_MACS = 20_000_000
MIN_BIG_STEPS = 20


def min_steps(macs: int) -> int:
    """The fewest steps whose ratio means something, for a step of `macs` multiply-adds (MIN_STEPS for small)."""
    return max(MIN_BIG_STEPS, min(MIN_STEPS, MIN_STEPS * SMALL_STEP_MACS // max(1, macs)))


def bench(args: argparse.Namespace, values: dict | None) -> int:
    """The lecture's loop against the trainer; with `values` (a preset or flags), that recipe instead."""
    from core.data import Dataset
    from core.engine.train import TrainConfig
    from core.model import MLPConfig
    from core.probes.bench import bench

    if values is not None:
        return _bench_recipe(args, values)
    mcfg, tcfg = MLPConfig(), TrainConfig()
    steps = args.steps or 30_000
    data = Dataset.load(args.data or "names", mcfg.block_size)
    print(f"lecture recipe on {data.source}: {MLPConfig(vocab_size=len(data.vocab)).num_params():,} parameters, "
          f"batch {tcfg.batch_size}, {steps:,} steps each, 1 torch thread", flush=True)
    r = bench(data, mcfg, tcfg, steps)
    tail = min(1000, steps)
    print(f"{'lecture loop (autograd, .item() per step):':<45}{r.reference_sps:>9,.0f} steps/s  "
          f"(loss over the last {tail:,} steps {r.reference_loss:.3f})")
    label = "numba step, many per call" if r.kernel == "numba" else "fused, no per-step sync"
    print(f"{'mlp-tui trainer (' + label + '):':<45}{r.trainer_sps:>9,.0f} steps/s  "
          f"(loss over the last {tail:,} steps {r.trainer_loss:.3f})")
    if r.fallback_sps is not None:
        print(f"{'mlp-tui trainer (torch kernels, no extra):':<45}{r.fallback_sps:>9,.0f} steps/s  "
              f"(loss over the last {tail:,} steps {r.fallback_loss:.3f})")
    print(f"ratio: {r.ratio:.2f}x" + (f" (torch kernels {r.fallback_sps / r.reference_sps:.2f}x)"
                                      if r.fallback_sps is not None else ""))
    if r.kernel != "numba":
        from core.kernels import jit

        print(f"the compiled step is off: {jit.why_not()}")
    return 0


def _bench_recipe(args: argparse.Namespace, values: dict) -> int:
    from dataclasses import replace

    from core.config import configs
    from core.data import Dataset
    from core.kernels.threads import step_macs, training_threads
    from core.probes.bench import bench_preset
    from core.tokens import TextOptions

    mcfg, tcfg = configs(values)
    members = mcfg.members
    if members > 1:  # each member trains on its own kernel, as a model of its own: that is what to time
        mcfg = mcfg.member()
        print(f"an ensemble of {members} members: timing one (n_embd {mcfg.n_embd}, n_hidden {mcfg.n_hidden}); "
              f"`train` runs them side by side, a core each", flush=True)
    data = Dataset.load(values["data"], mcfg.block_size, dedupe=bool(values.get("dedupe")),
                        options=TextOptions.from_values(values))
    mcfg = replace(mcfg, vocab_size=len(data.vocab))
    least = min_steps(step_macs(mcfg, tcfg.batch_size))
    if args.steps is not None and args.steps < least:
        fail(f"--steps {args.steps:,}: bench needs at least {least:,} steps of this recipe; over fewer the trainer's "
             f"start-up outweighs its speed and the ratio means nothing")
    steps = args.steps or min(3_000, 3 * least)
    threads = args.threads or training_threads(mcfg, tcfg.batch_size)
    what = f"--preset {args.preset}" if args.preset else "this recipe"
    print(f"{what} on {data.source}: {mcfg.num_params():,} parameters, batch {tcfg.batch_size}, {tcfg.optimizer}, "
          f"{steps:,} steps each, {threads} thread{'s' * (threads != 1)}", flush=True)
    r = bench_preset(data, mcfg, tcfg, steps, threads)
    tail = min(1000, steps)
    print(f"plain PyTorch (nn, autograd, torch.optim, .item()): {_rate(r.plain_sps):>9} steps/s  "
          f"(loss over the last {tail:,} steps {r.plain_loss:.3f})")
    label = "mlp-tui trainer (" + {"numba": "numba step", "openblas": "wide kernel, OpenBLAS"}.get(
        r.kernel, "torch kernels") + "):"
    print(f"{label:<52}{_rate(r.trainer_sps):>9} steps/s  "
          f"(loss over the last {tail:,} steps {r.trainer_loss:.3f})")
    print(f"ratio: {r.ratio:.2f}x")
    print(f"matmul floor: {r.floor_seconds * 1e6:,.0f} us per step ({1 / r.floor_seconds:,.0f} steps/s if a step "
          f"were only its matmuls); our share of the floor: {r.floor_share:.0%}")
    return 0


def _rate(steps_per_second: float) -> str:
    """Steps per second as the bench prints them: whole numbers, or two decimals for a word model's few."""
    return f"{steps_per_second:,.0f}" if steps_per_second >= 100 else f"{steps_per_second:.2f}"


def add_parser(cl: CommandLine) -> None:
    p = cl.add("bench", run, description="Steps per second of the lecture's training loop and of mlp-tui's trainer, "
               "same recipe, same data, one process. With --preset or any model or training flag: that recipe "
               "written the plain PyTorch way (nn layers, autograd, torch.optim, loss.item() per step) against the "
               "trainer, and the step's matmul floor. --steps: steps for each loop (default here: 30,000 for the "
               f"lecture's loop, 3,000 for a recipe, fewer for a big step; at least {MIN_STEPS:,}, or for a big step "
               f"as many as take about as long, for a ratio that means something).")
    p.add_argument("--threads", type=thread_count, default=None, metavar="N",
                   help="torch threads (default: the lecture's loop 1; a recipe as `train` would run it alone: 1 for a "
                        "small model, 2 for a big step when a second core is free)")
    if cl.wants_settings("bench"):
        add_training_options(p)


def run(args: argparse.Namespace) -> int:
    """The lecture's loop, or with --preset or any model or training flag (not --data, --steps) that recipe."""
    recipe = args.preset is not None or any(getattr(args, s.name, None) is not None for s in settings.SETTINGS
                                            if s.cli and s.name not in ("data", "steps"))
    if not recipe and args.steps is not None and args.steps < MIN_STEPS:  # a recipe's minimum depends on its step
        fail(f"--steps {args.steps:,}: bench needs at least {MIN_STEPS:,}; over fewer steps the trainer's start-up "
             f"outweighs its speed and the ratio means nothing (0.4x at 10 steps, 5x at {MIN_STEPS:,})")
    return bench(args, resolve_settings(args) if recipe else None)

"""Speed of the trainer against the lecture's own training loop, on the same data in one process."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, cast

import torch
import torch.nn.functional as F

from core.data import Dataset
from core.engine.train import TrainConfig, Trainer
from core.kernels.wide import WIDE_VOCAB
from core.model import MLP, MLPConfig


@dataclass(frozen=True)
class BenchResult:
    steps: int
    reference_sps: float  # the lecture loop
    trainer_sps: float
    reference_loss: float  # mean loss of the last 1,000 steps of each
    trainer_loss: float
    kernel: str = "torch"  # the trainer's kernel: "numba" (core.kernels.jit) or "torch" (core.kernels.lecture)
    fallback_sps: float | None = None  # with numba: the torch kernels too, the path without the extra
    fallback_loss: float | None = None

    @property
    def ratio(self) -> float:
        return self.trainer_sps / self.reference_sps


def lecture_loop(data: Dataset, model_config: MLPConfig, config: TrainConfig, steps: int) -> tuple[float, float]:
    """makemore part 2's loop as written there: autograd, a Python-level update, .item() every step.

    Returns (steps per second, mean loss of the last 1,000 steps).
    """
    g = torch.Generator().manual_seed(config.seed)
    model = MLP(model_config, g)
    parameters = list(model.parameters())
    Xtr, Ytr = data.X["train"], data.Y["train"]
    lossi = []
    t0 = time.perf_counter()
    for i in range(steps):
        ix = torch.randint(0, Xtr.shape[0], (config.batch_size,), generator=g)
        emb = model.C[Xtr[ix]]  # (B, block_size, n_embd)
        h = torch.tanh(emb.view(emb.shape[0], -1) @ model.W1 + model.b1)  # (B, n_hidden)
        logits = h @ model.W2 + model.b2  # (B, vocab)
        loss = F.cross_entropy(logits, Ytr[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = config.lr_at(i)
        for p in parameters:
            p.data += -lr * cast(torch.Tensor, p.grad)  # set by backward(): the type checker can't know
        lossi.append(loss.item())
    dt = time.perf_counter() - t0
    tail = lossi[-1000:]
    return steps / dt, sum(tail) / len(tail)


def trainer_speed(data: Dataset, model_config: MLPConfig, config: TrainConfig,
                  steps: int) -> tuple[float, float, str]:
    """The Trainer on the same recipe: (steps per second of wall time, mean loss of the last 1,000 steps,
    the kernel it ran on: "numba" or "torch")."""
    trainer = Trainer(data, model_config, config)
    t0 = time.perf_counter()
    trainer.run(steps)
    dt = time.perf_counter() - t0
    _, vals = trainer.history.series()
    tail = (10 ** vals[-1000:]).mean().item()
    return trainer.step / dt, tail, trainer.kernel.name


def scaled(config: TrainConfig, steps: int, **changes: Any) -> TrainConfig:
    """The recipe run for `steps` steps, its lr decay at the same fraction of the run (half way when the recipe
    has no step count), with `changes` on top."""
    frac = config.decay_at / config.steps if config.steps else 0.5
    return TrainConfig(**{**config.to_dict(), "steps": steps, "decay_at": int(steps * frac), **changes})


def bench(data: Dataset, model_config: MLPConfig, config: TrainConfig, steps: int) -> BenchResult:
    """Both loops, one torch thread, the same number of steps; the decay step scaled to `steps`."""
    torch.set_num_threads(1)
    model_config = replace(model_config, vocab_size=len(data.vocab), block_size=data.block_size)
    config = scaled(config, steps)
    ref_sps, ref_loss = lecture_loop(data, model_config, config, steps)
    tr_sps, tr_loss, kernel = trainer_speed(data, model_config, config, steps)
    if kernel != "numba":  # not installed, switched off, or it failed: jit.why_not() says which
        return BenchResult(steps, ref_sps, tr_sps, ref_loss, tr_loss)
    with torch_kernels():
        fb_sps, fb_loss, _ = trainer_speed(data, model_config, config, steps)
    return BenchResult(steps, ref_sps, tr_sps, ref_loss, tr_loss, "numba", fb_sps, fb_loss)


@contextmanager
def torch_kernels() -> Iterator[None]:
    """Trainers made inside use the torch kernels (core.kernels.lecture), as without the `fast` extra."""
    old = os.environ.get("MLP_TUI_KERNEL")
    os.environ["MLP_TUI_KERNEL"] = "torch"
    try:
        yield
    finally:
        if old is None:
            del os.environ["MLP_TUI_KERNEL"]
        else:
            os.environ["MLP_TUI_KERNEL"] = old


# ---- any preset: the plain PyTorch way against the trainer, and the matmul floor ----
class _Rows(torch.nn.Module):
    """(B, ...) -> (B * rows, fan_in): the flat model's concatenation, or hier's pairs of neighbours."""

    def __init__(self, rows: int, fan_in: int) -> None:
        super().__init__()
        self.rows, self.fan_in = rows, fan_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, self.fan_in)


class PlainModel(torch.nn.Module):
    """The same network as core.model.MLP, written as a PyTorch user would: nn layers and autograd."""

    def __init__(self, cfg: MLPConfig, dropout: float) -> None:
        super().__init__()
        nn = torch.nn
        plan = cfg.plan()
        self.emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        body: list[nn.Module] = []
        for layer in plan[:-1]:
            body += [_Rows(layer.rows, layer.fan_in), nn.Linear(layer.fan_in, layer.width, bias=layer.bias)]
            body += [nn.BatchNorm1d(layer.width)] if layer.bn else []
            body += [nn.Tanh()] + ([nn.Dropout(dropout)] if dropout else [])
        self.body = nn.Sequential(*body)
        out = plan[-1]
        self.out = nn.Sequential(nn.Linear(out.fan_in, out.width, bias=out.bias),
                                 *([nn.BatchNorm1d(out.width)] if out.bn else []))
        T, E = cfg.block_size, cfg.n_embd
        self.direct = nn.Linear(T * E, cfg.vocab_size, bias=False) if cfg.direct else None

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        e = self.emb(idx)  # (B, block_size, n_embd)
        B = e.shape[0]
        logits = self.out(self.body(e).view(B, -1))  # (B, vocab)
        if self.direct is not None:
            logits = logits + self.direct(e.view(B, -1))
        return logits


class PlainLoop:
    """The plain PyTorch loop: nn layers, autograd, torch.optim (AdamW or SGD), nn.Dropout, clip_grad_norm_ if
    clipping, and loss.item() every step; run(n) goes on for n more steps (bench_preset interleaves it)."""

    def __init__(self, data: Dataset, model_config: MLPConfig, config: TrainConfig) -> None:
        torch.manual_seed(config.seed)
        self.model = PlainModel(model_config, config.dropout)
        self.params = list(self.model.parameters())
        if config.optimizer == "adamw":
            self.opt: torch.optim.Optimizer = torch.optim.AdamW(
                self.params, lr=config.lr, betas=(config.beta1, config.beta2), weight_decay=config.weight_decay)
        else:
            self.opt = torch.optim.SGD(self.params, lr=config.lr, weight_decay=config.weight_decay)
        self.g = torch.Generator().manual_seed(config.seed)
        self.data, self.config = data, config
        self.lossi: list[float] = []
        self.seconds = 0.0

    def run(self, steps: int) -> None:
        cfg, model, opt = self.config, self.model, self.opt
        Xtr, Ytr = self.data.X["train"], self.data.Y["train"]
        t0 = time.perf_counter()
        for i in range(len(self.lossi), len(self.lossi) + steps):
            ix = torch.randint(0, Xtr.shape[0], (cfg.batch_size,), generator=self.g)
            loss = F.cross_entropy(model(Xtr[ix]), Ytr[ix])
            for group in opt.param_groups:
                group["lr"] = cfg.lr_at(i)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
            opt.step()
            self.lossi.append(loss.item())
        self.seconds += time.perf_counter() - t0

    @property
    def tail_loss(self) -> float:
        """The mean loss of the last 1,000 steps."""
        tail = self.lossi[-1000:]
        return sum(tail) / len(tail)


def plain_loop(data: Dataset, model_config: MLPConfig, config: TrainConfig, steps: int) -> tuple[float, float]:
    """PlainLoop for `steps` steps: (steps per second, mean loss of the last 1,000 steps)."""
    loop = PlainLoop(data, model_config, config)
    loop.run(steps)
    return steps / loop.seconds, loop.tail_loss


def _per_call(once: Callable[[], None], reps: int, seconds: float) -> float:
    """Seconds per call of once(): warmed up, then `reps` calls or as many as fit in `seconds` (at least 3)."""
    warm = time.perf_counter()
    for i in range(50):
        once()
        if i >= 1 and time.perf_counter() - warm > seconds / 10:
            break
    t0, n = time.perf_counter(), 0
    while n < reps and (n < 3 or time.perf_counter() - t0 < seconds):
        once()
        n += 1
    return (time.perf_counter() - t0) / n


def matmul_floor(model_config: MLPConfig, batch_size: int, reps: int = 2000, seconds: float = 3.0) -> float:
    """Seconds per step of the step's matrix multiplies alone (each layer's forward, its weights' gradient and
    its input's gradient; the direct connections' too), on preallocated buffers: what no kernel can beat.
    `reps` steps, or as many as fit in `seconds` (a word model's step takes a tenth of a second)."""
    B = batch_size
    work = []
    for layer in model_config.plan():
        n = B * layer.rows
        x, W, y = torch.randn(n, layer.fan_in), torch.randn(layer.fan_in, layer.width), torch.empty(n, layer.width)
        work.append((x, W, y, torch.empty(layer.fan_in, layer.width), torch.empty(n, layer.fan_in)))
    if model_config.direct:
        TE, V = model_config.block_size * model_config.n_embd, model_config.vocab_size
        work.append((torch.randn(B, TE), torch.randn(TE, V), torch.empty(B, V), torch.empty(TE, V),
                     torch.empty(B, TE)))

    def once() -> None:
        for x, W, y, gW, dx in work:
            torch.mm(x, W, out=y)  # forward
            torch.mm(x.t(), y, out=gW)  # the weights' gradient (y stands in for the gradient: same shape)
            torch.mm(y, W.t(), out=dx)  # the input's gradient

    return _per_call(once, reps, seconds)


def wide_matmul_floor(model_config: MLPConfig, batch_size: int, library: str, seconds: float = 3.0) -> float:
    """matmul_floor for the layout of core.kernels.wide: the hidden layers' products by torch, and the output side
    as one (B, K) @ (K, V) product each way (the output weights, direct connections and bias as one matrix), by
    `library` ("openblas" or "torch", core.kernels.blas)."""
    from core.kernels.blas import Gemm

    B, plan = batch_size, model_config.plan()
    out, V = plan[-1], model_config.vocab_size
    K = out.fan_in + 1 + (model_config.block_size * model_config.n_embd if model_config.direct else 0)
    gemm = Gemm(library)
    gemm.set_threads(torch.get_num_threads())  # as many as torch's, which bench_preset set
    x, W, y, gW, dx = torch.randn(B, K), torch.randn(K, V), torch.empty(B, V), torch.empty(K, V), torch.empty(B, K)
    calls = [gemm.product(x, W, y), gemm.product(x.t(), y, gW), gemm.product(y, W.t(), dx)]
    for layer in plan[:-1]:
        n = B * layer.rows
        h, Wh, yh = torch.randn(n, layer.fan_in), torch.randn(layer.fan_in, layer.width), torch.empty(n, layer.width)
        gWh, dh = torch.empty(layer.fan_in, layer.width), torch.empty(n, layer.fan_in)
        calls += [Gemm("torch").product(*abc) for abc in ((h, Wh, yh), (h.t(), yh, gWh), (yh, Wh.t(), dh))]

    def once() -> None:
        for call in calls:
            call()

    return _per_call(once, 2000, seconds)


def compiled_matmul_floor(model_config: MLPConfig, batch_size: int, reps: int = 2000) -> float:
    """matmul_floor for the lecture layout through numba's np.dot, as core.kernels.jit's step calls them."""
    import numpy as np

    from core.kernels.jitsteps import matmul_floor as run

    plan = model_config.plan()
    bufs = []
    for layer in plan:
        n = batch_size * layer.rows
        bufs += [np.random.randn(n, layer.fan_in).astype(np.float32),
                 np.random.randn(layer.fan_in, layer.width).astype(np.float32),
                 np.empty((n, layer.width), np.float32), np.empty((layer.fan_in, layer.width), np.float32),
                 np.empty((n, layer.fan_in), np.float32)]
    run(50, *bufs)
    t0 = time.perf_counter()
    run(reps, *bufs)
    return (time.perf_counter() - t0) / reps


@dataclass(frozen=True)
class PresetBench:
    steps: int
    threads: int
    params: int
    plain_sps: float
    trainer_sps: float
    plain_loss: float
    trainer_loss: float
    floor_seconds: float  # per step
    kernel: str = "torch"  # the trainer's kernel: "numba" (core.kernels.jit), "openblas" (core.kernels.wide) or "torch"
    source: str = ""  # the data's

    @property
    def ratio(self) -> float:
        return self.trainer_sps / self.plain_sps

    @property
    def floor_share(self) -> float:
        """The matmuls' floor over our step time: 1.0 would be a step that is nothing but its matmuls."""
        return self.floor_seconds * self.trainer_sps


ROUNDS = 3  # bench_preset alternates the plain loop, the trainer and the floor this many times


def step_floor(model_config: MLPConfig, batch_size: int, kernel: str, seconds: float) -> float:
    """The fastest way to do the step's matmuls alone: torch's per layer; for the compiled step numba's too (its
    tiny matmuls skip torch's dispatch); for core.kernels.wide's layout (the output side as one matrix), that
    layout on OpenBLAS or torch."""
    floor = matmul_floor(model_config, batch_size, seconds=seconds)
    if kernel == "numba":
        floor = min(floor, compiled_matmul_floor(model_config, batch_size))
    if model_config.vocab_size >= WIDE_VOCAB and not model_config.bn_out:
        floor = min(floor, *(wide_matmul_floor(model_config, batch_size, lib, seconds)
                             for lib in ("openblas", "torch")))
    return floor


def bench_preset(data: Dataset, model_config: MLPConfig, config: TrainConfig, steps: int,
                 threads: int = 1) -> PresetBench:
    """The plain PyTorch loop, the trainer and the matmul floor: same data, steps and thread count. The three take
    turns, ROUNDS times, so that a machine whose load changes (other jobs) weighs on each alike; the floor is the
    mean of its rounds'."""
    torch.set_num_threads(threads)
    model_config = replace(model_config, vocab_size=len(data.vocab), block_size=data.block_size)
    config = scaled(config, steps, minutes=None, patience=0)
    plain = PlainLoop(data, model_config, config)
    trainer = Trainer(data, model_config, config)
    trainer.threads = threads
    trainer_seconds, floors = 0.0, []
    for r in range(ROUNDS):
        n = steps * (r + 1) // ROUNDS - steps * r // ROUNDS
        plain.run(n)
        t0 = time.perf_counter()
        trainer.run(n)
        trainer_seconds += time.perf_counter() - t0
        floors.append(step_floor(model_config, config.batch_size, trainer.kernel.name, 1.0))
    _, vals = trainer.history.series()
    trainer_loss = (10 ** vals[-1000:]).mean().item()
    return PresetBench(steps, threads, model_config.num_params(), steps / plain.seconds, trainer.step / trainer_seconds,
                       plain.tail_loss, trainer_loss, sum(floors) / len(floors), trainer.kernel.name, data.source)

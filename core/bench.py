"""Speed of the trainer against the lecture's own training loop, on the same data in one process."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from core.data import Dataset
from core.model import MLP, MLPConfig
from core.train import TrainConfig, Trainer


@dataclass(frozen=True)
class BenchResult:
    steps: int
    reference_sps: float  # the lecture loop
    trainer_sps: float
    reference_loss: float  # mean loss of the last 1,000 steps of each
    trainer_loss: float

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
            p.data += -lr * p.grad
        lossi.append(loss.item())
    dt = time.perf_counter() - t0
    tail = lossi[-1000:]
    return steps / dt, sum(tail) / len(tail)


def trainer_speed(data: Dataset, model_config: MLPConfig, config: TrainConfig, steps: int) -> tuple[float, float]:
    """The Trainer on the same recipe: (steps per second of wall time, mean loss of the last 1,000 steps)."""
    trainer = Trainer(data, model_config, config)
    t0 = time.perf_counter()
    trainer.run(steps)
    dt = time.perf_counter() - t0
    _, vals = trainer.history.series()
    tail = (10 ** vals[-1000:]).mean().item()
    return trainer.step / dt, tail


def bench(data: Dataset, model_config: MLPConfig, config: TrainConfig, steps: int) -> BenchResult:
    """Both loops, one torch thread, the same number of steps; the decay step scaled to `steps`."""
    torch.set_num_threads(1)
    model_config = replace(model_config, vocab_size=len(data.vocab), block_size=data.block_size)
    frac = config.decay_at / config.steps if config.steps else 0.5
    config = TrainConfig(**{**config.to_dict(), "steps": steps, "decay_at": int(steps * frac)})
    ref_sps, ref_loss = lecture_loop(data, model_config, config, steps)
    tr_sps, tr_loss = trainer_speed(data, model_config, config, steps)
    return BenchResult(steps, ref_sps, tr_sps, ref_loss, tr_loss)

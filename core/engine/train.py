"""The trainer: owns the model, the data, the step counter, and runs a kernel (core.kernels) in chunks.

The hot loop is the kernel's: a hand-written forward and backward pass, in torch calls or compiled by numba,
many steps per call and no host sync (core.kernels' docstring says which kernel runs when). Random batch
indices come from a pool drawn in large blocks, so the stream of batches depends only on the seed, not on how
steps are grouped into chunks. Losses are read back once per chunk of steps, where divergence is detected and
a snapshot is published for a UI.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import torch

from core import settings
from core.config import TrainConfig, validate_configs
from core.data import SPLITS, Dataset
from core.engine.history import LossHistory
from core.engine.kept import KeptWeights
from core.errors import ConfigError
from core.kernels import Kernel, make_kernel
from core.kernels.base import Rows
from core.kernels.lecture import dropout_masks
from core.link.protocol import Snapshot
from core.model import MLP, MLPConfig, split_loss
from core.status import Status

POOL_ROWS = 1 << 17  # training-row indices drawn per call to randint (in whole batches)


class Trainer(KeptWeights):
    """Trains an MLP on a Dataset, one chunk of steps per call: a synchronous engine.

    Whoever drives it (a core.engine.session.Session, or a notebook through run()) decides when to train,
    evaluate, sample and save; the Trainer keeps the weights, the batch stream and the losses.
    """

    def __init__(
        self,
        data: Dataset,
        model_config: MLPConfig,
        train_config: TrainConfig,
        model: MLP | None = None,
        history_capacity: int = 1 << 20,
    ):
        model_config = replace(model_config, vocab_size=len(data.vocab), block_size=data.block_size)
        validate_configs(model_config, train_config)  # each, the batch's buffers, and the rules across them
        if train_config.patience and len(data.Y["dev"]) == 0:
            raise ConfigError(f"patience needs a dev split; {data.source} has too few words ({len(data.words)}) "
                              f"to hold any out")
        self.data = data
        self.model_config = model_config
        self.config = train_config
        if model is None:
            model = MLP(model_config, torch.Generator().manual_seed(train_config.seed))
        self.model = model
        self.step = 0
        self.history = LossHistory(history_capacity)
        self.evals: list[tuple[int, dict[str, float]]] = []  # (step, split -> loss)
        self.best_dev = math.inf
        self.best_dev_step = -1
        self.elapsed = 0.0
        self.lr_override: float | None = None  # set_lr replaces the schedule's lr while set
        self._kernel: Kernel = self._make_kernel()
        self._gen = torch.Generator().manual_seed(train_config.seed + 1)  # batch indices
        self._mask_gen = torch.Generator().manual_seed(train_config.seed + 2)  # dropout masks
        self.wall = 0.0  # wall seconds spent in run(), pauses excluded: the clock of a time budget
        self.threads = 1  # torch threads while training; for an ensemble, threads for its members
        self.best_state: list[torch.Tensor] | None = None  # weights at the best dev loss (core.engine.kept)
        self.last_state: list[torch.Tensor] | None = None  # the last weights, while restore_best has put those in
        self.stale = 0  # scheduled evaluations since the dev loss last improved (the Session's patience; checkpointed)
        self._pool = torch.empty(0, train_config.batch_size, dtype=torch.long)
        self._pool_pos = 0
        self._pool_gen_state = self._gen.get_state()
        self._backup = [t.clone() for t in self._tensors()]
        self.diverged = False  # the last chunk diverged and was undone; the next good chunk clears it
        self.message = ""  # what happened, when it diverged
        self._sps = 0.0
        self._last_loss = math.nan
        self.last_chunk = torch.empty(0)
        self._ref_loss: float | None = None  # for the divergence check, measured before the first step
        self._best_chunk = math.inf
        self._snapshot = self._make_snapshot()

    @property
    def kernel(self) -> Kernel:
        """The kernel that runs the steps (its name says which: "numba" or "torch"); it may change with the recipe."""
        return self._kernel

    @property
    def cores(self) -> int:
        """The cores the steps run on: an ensemble's, its kernel's member threads; one model's, torch's `threads`."""
        return self._kernel.cores if self.model_config.members > 1 else self.threads

    def _tensors(self) -> list[torch.Tensor]:
        """Weights and batch-norm running statistics: what a rollback or the best-dev copy must keep."""
        return [p.detach() for p in self.model.parameters()] + list(self.model.buffers())

    def set_lr(self, lr: float | None) -> None:
        """Use this lr from the next chunk on, instead of the schedule's (None goes back to the schedule)."""
        if lr is not None and not (math.isfinite(lr) and lr > 0):
            raise ConfigError(f"lr must be a positive number, got {lr!r}")
        self.lr_override = lr

    LIVE = settings.live("train")  # the registry's say: what can change on a running model

    def update_config(self, **changes) -> None:
        """Change schedule and regularisation fields between chunks; validated first."""
        if set(changes) - set(self.LIVE):
            raise ConfigError(f"only {', '.join(sorted(self.LIVE))} can change while training")
        new = replace(self.config, **changes)
        new.validate()
        old, self.config = self.config, new
        if new.fast_path != old.fast_path:  # e.g. dropout switched on: the general kernel, same weights
            state = self._kernel.state_dict() if self._kernel.general else None
            self._kernel = self._make_kernel()
            if state is not None and self._kernel.general:
                self._kernel.load_state_dict(state)
        else:
            self._kernel.set_config(new)
        self.publish()

    def optimizer_state(self) -> dict:
        """AdamW's moments and step count (empty for SGD, which keeps none), for a checkpoint."""
        if self._kernel.general and self.config.optimizer == "adamw":
            return _cloned(self._kernel.state_dict())  # an ensemble's has each member's moments of b2 too
        return {}

    def load_optimizer_state(self, state: dict) -> None:
        if not state or self.config.optimizer != "adamw":
            return
        if not self._kernel.general:
            from core.kernels.lecture import FusedGeneral

            # an ensemble keeps its members' kernel (a plain one would train the zero blocks between them)
            self._kernel = self._make_kernel() if self.model_config.members > 1 else FusedGeneral(self.model,
                                                                                                   self.config)
        self._kernel.load_state_dict(state)

    @property
    def lr(self) -> float:
        if self.lr_override is not None:
            return self.lr_override
        return self.config.lr_at(self.step, self.progress if self.config.minutes is not None else None)

    def snapshot(self) -> Snapshot:
        """The state as of now (the same as publish(); the name reads better in a notebook)."""
        return self.publish()

    def rng_state(self) -> dict:
        """Where the batch stream is, so a resumed run draws the same batches it would have."""
        return {"gen": self._pool_gen_state.clone(), "pos": self._pool_pos, "drawn": len(self._pool) > 0,
                "masks": self._mask_gen.get_state()}  # dropout's stream too, so a resume draws the same masks

    def set_rng_state(self, state: dict) -> None:
        try:
            self._gen.set_state(state["gen"])
        except (RuntimeError, TypeError) as e:
            raise ValueError(f"batch generator state: {e}") from None
        masks = state.get("masks")  # absent from checkpoints before it was kept
        if masks is not None:
            try:
                if not isinstance(masks, torch.Tensor):
                    raise TypeError(f"a {type(masks).__name__}, not a tensor")
                self._mask_gen.set_state(masks)
            except (RuntimeError, TypeError) as e:
                raise ValueError(f"dropout mask generator state: {e}") from None
        self._pool = torch.empty(0, self.config.batch_size, dtype=torch.long)
        self._pool_pos = 0
        if state.get("drawn"):
            self._indices(0)  # redraw the pool from the saved state ...
            pos = int(state["pos"])
            if not 0 <= pos <= len(self._pool):
                raise ValueError(f"batch generator state: position {pos} is past the {len(self._pool):,} batches "
                                 f"of the pool")
            self._pool_pos = pos  # ... and skip what was used

    # ---- training ----
    def _indices(self, n: int) -> torch.Tensor:
        """The next n batches of training-row indices (n, B), from pools of POOL_ROWS rows."""
        if self._pool_pos == len(self._pool):
            ntr = len(self.data.Y["train"])
            B = self.config.batch_size
            self._pool_gen_state = self._gen.get_state()  # to redraw this pool when resuming a checkpoint
            self._pool = torch.randint(0, ntr, (max(1, POOL_ROWS // B), B), generator=self._gen)
            self._pool_pos = 0
        n = min(n, len(self._pool) - self._pool_pos)
        ix = self._pool[self._pool_pos : self._pool_pos + n]
        self._pool_pos += n
        return ix

    def _make_kernel(self) -> Kernel:
        return make_kernel(self.model, self.config)

    @property
    def progress(self) -> float:
        """How far through the run: steps done over steps, or wall time over the time budget."""
        if self.config.minutes is not None:
            return min(1.0, self.wall / (60 * self.config.minutes))
        return min(1.0, self.step / self.config.steps)

    @property
    def total_steps(self) -> int:
        """config.steps, or for a time budget the steps it should reach at the current speed."""
        if self.config.minutes is None:
            return self.config.steps
        left = max(0.0, 60 * self.config.minutes - self.wall)
        rate = self.step / self.wall if self.wall > 0 else self._sps
        return self.step + int(left * rate)

    def _chunk_size(self, target: int) -> int:
        # About 50 ms of work per chunk: responsive to commands, yet few syncs.
        n = int(self._sps * 0.05) if self._sps > 0 else 16
        n = max(16, min(n, 2048))
        return max(1, min(n, target - self.step))

    def _lrs(self, n: int) -> float | list[float]:
        """The learning rate of each of the next n steps (the schedule, or set_lr's override)."""
        if self.lr_override is not None:
            return self.lr_override
        cfg, progress = self.config, (self.progress if self.config.minutes is not None else None)
        if cfg.schedule != "cosine" and self.step >= cfg.warmup:
            first, last = cfg.lr_at(self.step, progress), cfg.lr_at(self.step + n - 1, progress)
            if first == last:
                return first  # constant over the chunk: no per-step list
        return [cfg.lr_at(self.step + i, progress) for i in range(n)]

    def train_chunk(self, target: int | None = None) -> bool:
        """Run one chunk of steps (not past step `target`); False if training diverged (weights restored)."""
        t_enter = time.perf_counter()
        if target is None:
            target = self.step + 2048 if self.config.minutes is not None else self.config.steps
        elif self.config.minutes is None:
            target = min(target, self.config.steps)
        n = self._chunk_size(target)
        ix = self._indices(n)  # (n, B)
        n = len(ix)
        B = self.config.batch_size
        Xtr, Ytr = self.data.X["train"], self.data.Y["train"]
        K = self.model_config.members
        if K > 1:  # an ensemble: member k's batches are the stream shifted k/K of the way through the data
            ntr = len(Ytr)
            ix = torch.stack([(ix + k * (ntr // K)) % ntr for k in range(K)])  # (K, n, B)
        kernel = self._kernel
        x = Xtr[ix].view(*ix.shape[:-1], -1)  # (n, B*block_size), or (K, n, B*block_size)
        y = Ytr[ix] + kernel.row_offset  # (n, B) flat index into (B, V), or (K, n, B)
        xs: Rows = x if kernel.stacked else x.unbind(0)  # the torch kernels take one row per step
        ys: Rows = y if kernel.stacked else y.unbind(0)
        logp = torch.empty(n, B)
        lrs = self._lrs(n)
        limit = self._divergence_limit()  # from the weights before this chunk
        for b, p in zip(self._backup, self._tensors()):
            b.copy_(p)
        t0 = time.perf_counter()
        kernel.threads = self.threads  # an ensemble's members, a thread each up to this; a wide kernel's BLAS
        if torch.get_num_threads() != (want := 1 if self.model_config.members > 1 else self.threads):
            torch.set_num_threads(want)  # an ensemble's threads are its members' (torch's would spin beside them)
        masks: Rows | None = None
        if kernel.general and self.config.dropout > 0:  # (n, B, H), or (n, every layer's units) for a deep model
            drawn = dropout_masks(self._mask_gen, (n, *kernel.mask_shape), self.config.dropout)
            masks = drawn if kernel.stacked else drawn.unbind(0)
        kernel.run(xs, ys, logp, lrs, masks)
        losses = -logp.mean(1)  # (n,) per-step loss in nats
        mean = losses.mean()
        ok = bool(torch.isfinite(mean) & (mean <= limit))  # the one host sync of the chunk
        dt = time.perf_counter() - t0
        if not ok:
            self._rollback(losses, limit, lrs[0] if isinstance(lrs, list) else float(lrs))
            return False
        self.last_chunk = losses.log10()  # (n,) for consumers that keep their own copy of the curve
        self.history.append(self.last_chunk)
        self.step += n
        self.elapsed += dt
        inst = n / dt if dt > 0 else 0.0
        self._sps = inst if self._sps == 0 else 0.8 * self._sps + 0.2 * inst
        self._last_loss = float(losses[-min(n, 100):].mean())
        self._best_chunk = min(self._best_chunk, float(mean))
        self.wall += time.perf_counter() - t_enter
        self.diverged, self.message = False, ""
        return True

    def _divergence_limit(self) -> float:
        """A chunk whose mean loss is above this is diverging: twice the best level seen, plus one nat.

        Large learning rates rarely give inf or NaN here (tanh saturates, log_softmax is stable); the
        loss just explodes to hundreds of nats. The reference is the lower of the loss before this
        session's first step (on a fixed sample of training rows) and the best chunk since.
        """
        if self._ref_loss is None:
            X, Y = self.data.X["train"][:4096], self.data.Y["train"][:4096]
            self._ref_loss = split_loss(self.model, X, Y, threads=self.threads)  # the same on any number
        return 2 * min(self._ref_loss, self._best_chunk) + 1

    def _rollback(self, losses: torch.Tensor, limit: float, lr: float) -> None:
        """Put back the weights from the start of the chunk, pause, and say what happened."""
        self._put(self._backup)
        bad_steps = (~torch.isfinite(losses)) | (losses > limit)
        first = int(bad_steps.nonzero()[0]) if bool(bad_steps.any()) else len(losses) - 1
        worst = losses[first].item()
        what = "became non-finite" if not math.isfinite(worst) else f"jumped to {worst:.4g}"
        self.last_chunk = losses[:0]  # the chunk is undone: its steps leave no trace in the history
        self._last_loss = math.nan
        self.diverged = True
        self.message = (
            f"training diverged: the loss {what} at step {self.step + first + 1:,} with lr {lr:g}. "
            f"Training stopped, with the weights from step {self.step:,} restored. " + self._advice(lr)
        )

    def _advice(self, lr: float) -> str:
        """What to change: heavy dropout scales the surviving units by 1/(1-p), which blows up at any lr."""
        p = self.config.dropout
        if p >= 0.5:
            return f"Dropout {p:g} scales the kept units by {1 / (1 - p):.3g}x: try a lower dropout (e.g. 0.2)."
        return f"Try a lower learning rate (e.g. {lr / 10:g})."

    @property
    def finished(self) -> bool:
        """The run's length is reached: config.steps, or the time budget."""
        return self._done(self.config.steps if self.config.minutes is None else 2**62)

    def _done(self, target: int) -> bool:
        if self.config.minutes is not None and self.wall >= 60 * self.config.minutes:
            return True
        return self.step >= target

    def run(self, steps: int | None = None) -> bool:
        """Train until config.steps (or `steps` more, or the time budget); False if it diverged.

        A convenience for notebooks and tests: no evaluation, sampling or saving on the way (that is
        the Session's policy). Evaluate afterwards with evaluate().
        """
        if self.config.minutes is not None:
            target = 2**62 if steps is None else self.step + steps
        else:
            target = self.config.steps if steps is None else min(self.config.steps, self.step + steps)
        while not self._done(target):
            if not self.train_chunk(target):
                return False
        self.publish()
        return True

    @torch.no_grad()
    def evaluate(self, splits: tuple[str, ...] = SPLITS) -> dict[str, float]:
        """Mean loss over each whole split; remembers the best dev loss."""
        self.model.eval()
        out = {s: split_loss(self.model, self.data.X[s], self.data.Y[s]) for s in splits}
        self.record_eval(out)
        return out

    def record_eval(self, losses: dict[str, float], best: bool = True) -> None:
        """Keep an evaluation of the current weights; a new best dev loss keeps a copy of them (unless `best` is
        False: a measure other than the one the best is kept by, as a full pass where scheduled ones sample)."""
        self.evals.append((self.step, losses))
        dev = losses.get("dev", math.nan)
        if best and math.isfinite(dev) and dev < self.best_dev:
            self.best_dev, self.best_dev_step = dev, self.step
            self.best_state = [t.clone() for t in self._tensors()]
        self.publish()

    def _make_snapshot(self) -> Snapshot:
        last = self.evals[-1] if self.evals else (-1, {})
        return Snapshot(
            step=self.step, total_steps=self.total_steps, lr=self.lr,
            status=Status.DIVERGED if self.diverged else Status.DONE if self.finished else Status.IDLE,
            elapsed=self.elapsed,
            steps_per_second=self._sps, cores=self.cores,
            last_loss=self._last_loss,
            split_losses=dict(last[1]),
            eval_step=last[0],
            best_dev=self.best_dev,
            best_dev_step=self.best_dev_step,
            message=self.message,
        )

    def publish(self) -> Snapshot:
        """A fresh snapshot, for whoever drives the trainer (a Session), between chunks."""
        self._snapshot = self._make_snapshot()  # one reference swap: readers never see half a snapshot
        return self._snapshot


def _cloned(state: Any) -> Any:
    """A copy of an optimiser state (tensors in lists and dicts) that the kernel's next steps leave alone."""
    if isinstance(state, torch.Tensor):
        return state.clone()
    if isinstance(state, dict):
        return {k: _cloned(v) for k, v in state.items()}
    return [_cloned(v) for v in state]

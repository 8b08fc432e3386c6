"""Hyperparameters: the one source of truth for CLI flags, app controls, checkpoints and metrics.json.

Pure Python (no torch), so the app can validate and count parameters without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.errors import ConfigError

INITS = ("lecture", "kaiming")
SATURATED = 0.97  # |tanh| above this: the unit's gradient is under 6% of its peak (the lecture's 0.97)
VOWELS = "aeiou"
# A model this size would not fit comfortably in memory with its buffers; refuse it before allocating.
MAX_PARAMS = 200_000_000
MAX_BATCH = 1 << 16
# Activations grow with rows x width, not with the parameter count: a wide hidden layer or a huge
# vocabulary can pass MAX_PARAMS and still need hundreds of GiB for one evaluation chunk or batch.
MAX_ACTIVATION_BYTES = 4 << 30
EVAL_ROWS = 8192  # rows per chunk when core.model.split_loss evaluates a split


# The one range of each number setting: (lowest, highest, lowest itself refused). The CLI flags, the
# app's fields and validate() all read it, so a value is refused everywhere or nowhere.
BOUNDS: dict[str, tuple[float, float, bool]] = {
    "block_size": (1, 256, False),
    "n_embd": (1, 4096, False),
    "n_hidden": (1, 100_000, False),
    "batch_size": (1, MAX_BATCH, False),
    "lr": (0, 1000, True),
    "lr_decay": (0, 100, True),
    "decay_at": (0, 10**12, False),
    "warmup": (0, 10**12, False),
    "weight_decay": (0, 10, False),
    "dropout": (0, 0.9, False),  # beyond 0.9 the survivors are scaled by 10x and more: the run only blows up
    "steps": (1, 10**12, False),
    "minutes": (0, 10**6, True),
    "seed": (0, 2**63 - 1, False),
    "patience": (0, 10**6, False),
    "beta1": (0, 0.9999, False),
    "beta2": (0, 0.99999, False),
    "temperature": (0, 100, False),  # 0 (or under 1e-6): greedy, the most likely character every time
}


def _fmt(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def out_of_bounds(name: str, value: float) -> str | None:
    """Why `value` is outside the setting's range, in a few words ("must be <= 256"), or None."""
    lo, hi, lo_open = BOUNDS[name]
    if not math.isfinite(value):
        return "must be a finite number"
    if value < lo or (lo_open and value == lo):
        return f"must be > {_fmt(lo)}" if lo_open else f"must be >= {_fmt(lo)}"
    if value > hi:
        return f"must be <= {_fmt(hi)}"
    return None


def _check(name: str, value: object, integer: bool) -> None:
    if integer:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = _is_number(value)
    if not ok:
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    reason = out_of_bounds(name, value)  # type: ignore[arg-type]
    if reason:
        raise ConfigError(f"{name} {reason}, got {value!r}")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def _is_number(v: object) -> bool:
    """int or float, but not bool: True is an int to Python, never a learning rate to a user."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass
class MLPConfig:
    vocab_size: int = 27
    block_size: int = 3
    n_embd: int = 10
    n_hidden: int = 200
    init: str = "lecture"
    batchnorm: bool = False  # batch normalisation after the hidden linear layer (makemore part 3)

    def validate(self) -> None:
        if not isinstance(self.vocab_size, int) or isinstance(self.vocab_size, bool) or self.vocab_size < 1:
            raise ConfigError(f"vocab_size must be a positive integer, got {self.vocab_size!r}")
        for name in ("block_size", "n_embd", "n_hidden"):
            _check(name, getattr(self, name), integer=True)
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not isinstance(self.batchnorm, bool):
            raise ConfigError(f"batchnorm must be true or false, got {self.batchnorm!r}")
        n = self.num_params()
        if n > MAX_PARAMS:
            raise ConfigError(
                f"the model ({self.describe()}) would have {n:,} parameters ({_gib(n * 4)} of weights); "
                f"the limit is {MAX_PARAMS:,}"
            )
        self.check_activations(EVAL_ROWS, "evaluation")

    def describe(self) -> str:
        return (f"vocabulary {self.vocab_size:,}, context {self.block_size:,}, embedding {self.n_embd:,}, "
                f"hidden {self.n_hidden:,}")

    def activation_bytes(self, rows: int) -> int:
        """float32 bytes of the activations of `rows` examples at once, a generous estimate.

        Per row: embeddings and their gradient (2 * T * E), ~6 hidden-sized buffers (pre-activation,
        tanh, its square, gradient, dropout, batch norm) and ~3 vocabulary-sized ones (logits, their
        log-softmax, gradient), as the training kernel preallocates them.
        """
        T, E, H, V = self.block_size, self.n_embd, self.n_hidden, self.vocab_size
        return 4 * rows * (2 * T * E + 6 * H + 3 * V)

    def check_activations(self, rows: int, what: str) -> None:
        need = self.activation_bytes(rows)
        if need > MAX_ACTIVATION_BYTES:
            raise ConfigError(
                f"the model ({self.describe()}) would need {_gib(need)} for the activations of {rows:,} "
                f"examples at once ({what}); the limit is {_gib(MAX_ACTIVATION_BYTES)}"
            )

    def num_params(self) -> int:
        V, T, E, H = self.vocab_size, self.block_size, self.n_embd, self.n_hidden
        return V * E + T * E * H + H + H * V + V + (2 * H if self.batchnorm else 0)

    def to_dict(self) -> dict:
        return asdict(self)


OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine", "constant")


@dataclass
class TrainConfig:
    """Optimisation settings; the defaults are the lecture's recipe (plain SGD, one step decay)."""

    batch_size: int = 32
    lr: float = 0.1
    lr_decay: float = 0.1  # step: lr multiplied by this at decay_at; cosine: the final lr is lr * lr_decay
    decay_at: int = 100_000
    steps: int = 200_000
    seed: int = 2147483647  # the lecture's generator seed
    optimizer: str = "sgd"
    weight_decay: float = 0.0  # decoupled (AdamW); for SGD the same shrink of the weights each step
    dropout: float = 0.0  # on the hidden layer while training; off at evaluation and sampling
    schedule: str = "step"
    warmup: int = 0  # steps of linear warm-up from 0 to lr (any schedule)
    minutes: float | None = None  # train for this much wall time instead of `steps`
    beta1: float = 0.9
    beta2: float = 0.999
    patience: int = 0  # stop after this many dev evaluations without a new best (0: never)
    keep_best: bool = False  # at the end, put back the weights that had the best dev loss

    def validate(self) -> None:
        for name in ("batch_size", "steps", "decay_at", "warmup", "patience", "seed"):
            _check(name, getattr(self, name), integer=True)
        for name in ("lr", "lr_decay", "weight_decay", "dropout", "beta1", "beta2"):
            _check(name, getattr(self, name), integer=False)
        if self.minutes is not None:
            _check("minutes", self.minutes, integer=False)
        if not isinstance(self.keep_best, bool):
            raise ConfigError(f"keep_best must be true or false, got {self.keep_best!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")

    def lr_at(self, step: int, progress: float | None = None) -> float:
        """The learning rate for `step`; `progress` (0..1) is how far through the run it is.

        progress defaults to step / steps; a time budget passes elapsed / budget instead, so the
        schedule stretches over the minutes. step decay happens at progress decay_at / steps.
        """
        if progress is None:
            progress = step / self.steps
        if self.warmup and step < self.warmup:
            base = self.lr * (step + 1) / self.warmup
            return base if self.schedule != "step" or progress < self.decay_at / self.steps else base * self.lr_decay
        if self.schedule == "constant":
            return self.lr
        if self.schedule == "step":
            return self.lr * self.lr_decay if progress >= self.decay_at / self.steps else self.lr
        # cosine from lr down to lr * lr_decay over the steps after warm-up
        if self.minutes is None:
            t = (step - self.warmup) / max(1, self.steps - self.warmup)
        else:
            t = progress
        t = min(max(t, 0.0), 1.0)
        lo = self.lr * self.lr_decay
        return lo + (self.lr - lo) * 0.5 * (1 + math.cos(math.pi * t))

    def check_fits(self, model: MLPConfig) -> None:
        """Refuse a batch whose activations for this model would not fit, before anything is allocated.

        The Trainer's kernel preallocates (batch_size, n_hidden) buffers; batch 65,536 with 20,000 hidden
        units would be ~30 GiB, each config valid on its own.
        """
        model.check_activations(self.batch_size, f"a training batch of {self.batch_size:,}")

    @property
    def fast_path(self) -> bool:
        """Plain SGD without dropout or weight decay: the lecture's recipe, on the fastest kernel."""
        return self.optimizer == "sgd" and self.dropout == 0 and self.weight_decay == 0

    def to_dict(self) -> dict:
        return asdict(self)


# One flag that sets many: --preset NAME. Values override the defaults; explicit flags override presets.
PRESETS: dict[str, dict[str, object]] = {
    "lecture": {},
    "kaiming": {"init": "kaiming"},
    "best": {
        "block_size": 12, "n_embd": 24, "n_hidden": 512, "init": "kaiming",
        "batch_size": 32, "optimizer": "adamw", "lr": 1.4e-3, "lr_decay": 0.01, "weight_decay": 0.01,
        "dropout": 0.2, "schedule": "cosine", "warmup": 500, "keep_best": True,
    },
}

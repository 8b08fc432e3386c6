"""The configs: MLPConfig (the model) and TrainConfig (optimisation), made from the settings registry.

Their fields are the registry's settings of each target (core.settings), so a setting declared there
is a config field, a flag, a form field, and a key of metrics.json and of the checkpoint without
another line here; this module adds what the configs compute: sizes, memory estimates, the schedule.
Pure Python (no torch), so the app can validate and count parameters without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, field, make_dataclass
from typing import Any

from core import settings
from core.errors import ConfigError
from core.settings import INITS, MAX_BATCH, OPTIMIZERS, SCHEDULES  # noqa: F401  (re-exported)

SATURATED = 0.97  # |tanh| above this: the unit's gradient is under 6% of its peak (the lecture's 0.97)
VOWELS = "aeiou"
# A model this size would not fit comfortably in memory with its buffers; refuse it before allocating.
MAX_PARAMS = 200_000_000
# Activations grow with rows x width, not with the parameter count: a wide hidden layer or a huge
# vocabulary can pass MAX_PARAMS and still need hundreds of GiB for one evaluation chunk or batch.
MAX_ACTIVATION_BYTES = 4 << 30
EVAL_ROWS = 8192  # rows per chunk when core.model.split_loss evaluates a split


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def _validate(cfg: Any, target: str) -> None:
    values = asdict(cfg)
    settings.validate(values, [s.name for s in settings.of(target)])


class _ModelMethods:
    """What an MLPConfig computes; its fields are the registry's "model" settings plus vocab_size."""

    vocab_size: int
    block_size: int
    n_embd: int
    n_hidden: int
    init: str
    batchnorm: bool

    def validate(self) -> None:
        if not isinstance(self.vocab_size, int) or isinstance(self.vocab_size, bool) or self.vocab_size < 1:
            raise ConfigError(f"vocab_size must be a positive integer, got {self.vocab_size!r}")
        _validate(self, "model")
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
        return asdict(self)  # type: ignore[call-overload]


class _TrainMethods:
    """What a TrainConfig computes; its fields are the registry's "train" settings.

    The defaults are the lecture's recipe (plain SGD, one step decay)."""

    batch_size: int
    lr: float
    lr_decay: float
    decay_at: int
    steps: int
    seed: int
    optimizer: str
    weight_decay: float
    dropout: float
    grad_clip: float
    schedule: str
    warmup: int
    minutes: float | None
    beta1: float
    beta2: float
    patience: int
    keep_best: bool

    def validate(self) -> None:
        _validate(self, "train")

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
        """Plain SGD without dropout, weight decay or clipping: the lecture's recipe, on the fastest kernel."""
        return self.optimizer == "sgd" and self.dropout == 0 and self.weight_decay == 0 and self.grad_clip == 0

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]


_TYPES = {"int": int, "float": float, "bool": bool, "choice": str, "data": str}


def _fields(target: str) -> list[tuple[str, Any, Any]]:
    return [(s.name, _TYPES[s.kind] | None if s.optional else _TYPES[s.kind], field(default=s.default))
            for s in settings.of(target)]


MLPConfig = make_dataclass("MLPConfig", [("vocab_size", int, field(default=27)), *_fields("model")],
                           bases=(_ModelMethods,), namespace={"__module__": __name__})
TrainConfig = make_dataclass("TrainConfig", _fields("train"), bases=(_TrainMethods,),
                             namespace={"__module__": __name__})
MLPConfig.__doc__ = "The model: the registry's model settings and the vocabulary size (from the data)."
TrainConfig.__doc__ = "Optimisation, schedule and length of a run: the registry's train settings."


# One flag that sets many: --preset NAME (data in the registry).
PRESETS = settings.PRESETS


def configs(values: dict[str, Any]) -> tuple[Any, Any]:
    """(MLPConfig, TrainConfig) from settings values (old spellings accepted); vocab_size comes from the data."""
    values = {settings.canonical(k): v for k, v in values.items()}
    return MLPConfig(**settings.values_for("model", values)), TrainConfig(**settings.values_for("train", values))

"""The configs: MLPConfig (the model) and TrainConfig (optimisation), the settings registry's two targets.

Their fields are the registry's settings of each target (core.settings), written out so that a type
checker reads them: same names, same order, the registry's defaults, and a test (tests/unit/test_settings.py)
checks they match it, so a setting declared there must be added here too. Each is a flag, a form
field, and a key of metrics.json and of the checkpoint. This module adds what the configs compute:
sizes, memory estimates, the schedule, and validate_configs (every rule across the two).
Pure Python (no torch), so the app can validate and count parameters without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from core import settings
from core.errors import ConfigError
from core.settings import INITS, MAX_BATCH, OPTIMIZERS, SCHEDULES  # noqa: F401  (re-exported)
from core.sizes import format_size

SATURATED = 0.97  # |tanh| above this: the unit's gradient is under 6% of its peak (the lecture's 0.97)
VOWELS = "aeiou"
# A model this size would not fit comfortably in memory with its buffers; refuse it before allocating.
MAX_PARAMS = 200_000_000
# Activations grow with rows x width, not with the parameter count: a wide hidden layer or a huge
# vocabulary can pass MAX_PARAMS and still need hundreds of GiB for one evaluation chunk or batch.
MAX_ACTIVATION_BYTES = 4 << 30
EVAL_ROWS = 8192  # rows per chunk when core.model.split_loss evaluates a split



def _validate(values: dict[str, Any], target: str) -> None:
    """Each of the target's settings, then the rules among them (a rule across targets needs both:
    validate_configs)."""
    settings.validate(values, [s.name for s in settings.of(target)])


_D = settings.DEFAULTS  # the fields' defaults: the registry's


class Layer:
    """One Linear layer of the network, as core.model builds it and core.kernels.lecture trains it.

    Its input is `rows` rows per example of `fan_in` values (flat: 1 row, the whole context; hier: one
    row per pair of the level below), its output `width` units; then batch norm (over every row of the
    batch) if `bn`, and tanh unless it is the output layer. The names are the model's parameter names.
    """

    __slots__ = ("index", "rows", "fan_in", "width", "bias", "bn", "out")

    def __init__(self, index: int, rows: int, fan_in: int, width: int, bias: bool, bn: bool, out: bool) -> None:
        self.index, self.rows, self.fan_in, self.width = index, rows, fan_in, width
        self.bias, self.bn, self.out = bias, bn, out

    @property
    def W(self) -> str:
        return f"W{self.index}"

    @property
    def b(self) -> str:
        return f"b{self.index}"

    def bn_name(self, what: str) -> str:
        """bngain, bnbias, running_mean, running_var: unnumbered for layer 1 (the names of landed runs)."""
        return what if self.index == 1 else f"{what}{self.index}"

    def num_params(self) -> int:
        return self.fan_in * self.width + (self.width if self.bias else 0) + (2 * self.width if self.bn else 0)

    def __repr__(self) -> str:
        return (f"Layer({self.index}, rows={self.rows}, {self.fan_in}->{self.width}, bias={self.bias}, "
                f"bn={self.bn}{', out' if self.out else ''})")


@dataclass
class MLPConfig:
    """The model: the registry's model settings and the vocabulary size (from the data)."""

    vocab_size: int = 27
    block_size: int = _D["block_size"]
    n_embd: int = _D["n_embd"]
    n_hidden: int = _D["n_hidden"]
    init: str = _D["init"]
    batchnorm: bool = _D["batchnorm"]
    arch: str = _D["arch"]
    layers: int = _D["layers"]
    direct: bool = _D["direct"]
    bn_out: bool = _D["bn_out"]
    members: int = _D["members"]

    @property
    def lecture_layout(self) -> bool:
        """One flat hidden layer and plain logits: the lecture's model, whose parameters (b1 even under batch
        norm) are those of landed runs and checkpoints, and which trains on the fastest kernels."""
        return self.arch == "flat" and self.layers == 1 and not self.bn_out and not self.direct

    def plan(self) -> list[Layer]:
        """The Linear layers in order, the output layer last (see Layer)."""
        T, E, H, V, bn = self.block_size, self.n_embd, self.n_hidden, self.vocab_size, self.batchnorm
        keep_b1 = self.arch == "flat" and self.layers == 1  # the lecture's layout keeps b1 under batch norm
        out: list[Layer] = []
        if self.arch == "hier":
            rows, fan_in = T, E
            while rows > 1:  # fuse pairs: T/2 rows of 2E, then T/4 of 2H, ... down to one row of 2H
                rows //= 2
                out.append(Layer(len(out) + 1, rows, 2 * fan_in, H, not bn, bn, False))
                fan_in = H
        else:
            for i in range(self.layers):
                out.append(Layer(i + 1, 1, T * E if i == 0 else H, H, keep_b1 or not bn, bn, False))
        out.append(Layer(len(out) + 1, 1, H, V, not self.bn_out, self.bn_out, True))
        return out

    def validate(self) -> None:
        if not isinstance(self.vocab_size, int) or isinstance(self.vocab_size, bool) or self.vocab_size < 1:
            raise ConfigError(f"vocab_size must be a positive integer, got {self.vocab_size!r}")
        _validate(self.to_dict(), "model")
        n = self.stored_params()
        if n > MAX_PARAMS:
            count = f"{n:,} parameters ({format_size(n * 4, unit='GiB')} of weights); the limit is {MAX_PARAMS:,}"
            raise ConfigError(f"the model ({self.describe()}) would have {count}", brief=count)
        self.check_activations(EVAL_ROWS, "evaluation")

    def stored_params(self) -> int:
        """The floats the model holds: for an ensemble, its dense merged W1 with the zero blocks between
        members (K times the members' own W1) and each member's b2; what memory and the size limit see."""
        if self.members <= 1:
            return self.num_params()
        dense = replace(self, members=1)
        return dense.num_params() + self.members * self.vocab_size

    def member(self) -> MLPConfig:
        """One member of an ensemble (core.kernels.members): the embedding and hidden widths over members."""
        K = self.members
        return replace(self, n_embd=self.n_embd // K, n_hidden=self.n_hidden // K, members=1)

    def describe(self) -> str:
        deep = f" x {self.layers} layers" if self.arch == "flat" and self.layers > 1 else ""
        return (f"vocabulary {self.vocab_size:,}, context {self.block_size:,}, embedding {self.n_embd:,}, "
                f"hidden {self.n_hidden:,}{deep}{', hier' if self.arch == 'hier' else ''}"
                f"{f', {self.members} members' if self.members > 1 else ''}")

    def activation_bytes(self, rows: int) -> int:
        """float32 bytes of the activations of `rows` examples at once, a generous estimate.

        Per row: embeddings and their gradient (2 * T * E), ~6 buffers the size of each hidden layer's
        output (pre-activation, tanh, its square, gradient, dropout, batch norm) and ~3 vocabulary-sized
        ones (logits, their log-softmax, gradient), as the training kernels preallocate them.
        """
        T, E, V = self.block_size, self.n_embd, self.vocab_size
        hidden = sum(layer.rows * layer.width for layer in self.plan() if not layer.out)
        return 4 * rows * (2 * T * E + 6 * hidden + 3 * V)

    def check_activations(self, rows: int, what: str) -> None:
        need = self.activation_bytes(rows)
        if need > MAX_ACTIVATION_BYTES:
            why = (f"would need {format_size(need, unit='GiB')} for the activations of {rows:,} examples at once "
                   f"({what}); the limit is {format_size(MAX_ACTIVATION_BYTES, unit='GiB')}")
            raise ConfigError(f"the model ({self.describe()}) {why}", brief=f"it {why}")

    def num_params(self) -> int:
        """The trained parameters: for members, theirs (the merged W1's zero blocks are not counted)."""
        if self.members > 1:
            return self.members * self.member().num_params()
        V, T, E = self.vocab_size, self.block_size, self.n_embd
        return V * E + sum(layer.num_params() for layer in self.plan()) + (T * E * V if self.direct else 0)

    def arch_label(self) -> str:
        """A few words for the runs list: "flat 3x200 · bn · direct", "hier 3 levels of 128"."""
        if self.arch == "hier":
            levels = len(self.plan()) - 1
            text = f"hier {levels} level{'s' * (levels != 1)} of {self.n_hidden}"
        else:
            text = f"flat {self.layers}x{self.n_hidden}" if self.layers > 1 else f"hidden {self.n_hidden}"
        return text + (" · direct" if self.direct else "") + (f" · {self.members} members" if self.members > 1 else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainConfig:
    """Optimisation, schedule and length of a run: the registry's train settings.

    The defaults are the lecture's recipe (plain SGD, one step decay)."""

    batch_size: int = _D["batch_size"]
    optimizer: str = _D["optimizer"]
    lr: float = _D["lr"]
    beta1: float = _D["beta1"]
    beta2: float = _D["beta2"]
    weight_decay: float = _D["weight_decay"]
    dropout: float = _D["dropout"]
    grad_clip: float = _D["grad_clip"]
    schedule: str = _D["schedule"]
    lr_decay: float = _D["lr_decay"]
    decay_at: int = _D["decay_at"]
    warmup: int = _D["warmup"]
    steps: int = _D["steps"]
    minutes: float | None = _D["minutes"]
    patience: int = _D["patience"]
    keep_best: bool = _D["keep_best"]
    seed: int = _D["seed"]

    def validate(self) -> None:
        _validate(self.to_dict(), "train")

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
        if self.schedule == "inverse":  # Bengio et al. 2003: lr_t = lr / (1 + r t), r = lr_decay (theirs 1e-8)
            return self.lr / (1 + self.lr_decay * step)
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_configs(model: MLPConfig, train: TrainConfig) -> None:
    """Both configs, each on its own, whether the batch's activations fit, and every rule across them (batch
    norm needs a batch of 2): the one check of a model and its training, whoever builds them."""
    train.validate()
    model.validate()
    train.check_fits(model)  # the kernel's (batch, hidden) buffers, before anything allocates them
    settings.validate({**model.to_dict(), **train.to_dict()}, ())


# One flag that sets many: --preset NAME (data in the registry).
PRESETS = settings.PRESETS


def configs(values: dict[str, Any]) -> tuple[MLPConfig, TrainConfig]:
    """(MLPConfig, TrainConfig) from settings values (old spellings accepted); vocab_size comes from the data."""
    values = {settings.canonical(k): v for k, v in values.items()}
    return MLPConfig(**settings.values_for("model", values)), TrainConfig(**settings.values_for("train", values))


LECTURE_INIT_LOSS = 26  # the lecture's N(0,1) init starts near this loss on any vocabulary (names 25.6, kjv words 26.0)


def init_note(init: str, vocab_size: int, tokens: str) -> str | None:
    """One line for a word model with the lecture's plain N(0,1) init, whose first loss (~26) is far above a uniform
    guess's ln|V|: kaiming starts near it. None otherwise (for characters that gap is makemore part 3's lesson)."""
    if tokens != "words" or init != "lecture" or vocab_size < 2:
        return None
    return (f"init lecture (the plain N(0,1)) starts a {vocab_size:,}-word model near loss {LECTURE_INIT_LOSS}, far "
            f"above a uniform guess's {math.log(vocab_size):.2f}; --init kaiming starts near it")

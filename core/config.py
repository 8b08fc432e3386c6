"""Hyperparameters: the one source of truth for CLI flags, app controls, checkpoints and metrics.json.

Pure Python (no torch), so the app can validate and count parameters without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.errors import ConfigError

INITS = ("lecture", "kaiming")
# A model this size would not fit comfortably in memory with its buffers; refuse it before allocating.
MAX_PARAMS = 200_000_000
MAX_BATCH = 1 << 16


@dataclass
class MLPConfig:
    vocab_size: int = 27
    block_size: int = 3
    n_embd: int = 10
    n_hidden: int = 200
    init: str = "lecture"

    def validate(self) -> None:
        for name in ("vocab_size", "block_size", "n_embd", "n_hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        n = self.num_params()
        if n > MAX_PARAMS:
            raise ConfigError(
                f"the model would have {n:,} parameters ({n * 4 / 2**30:.1f} GiB of weights); "
                f"the limit is {MAX_PARAMS:,}"
            )

    def num_params(self) -> int:
        V, T, E, H = self.vocab_size, self.block_size, self.n_embd, self.n_hidden
        return V * E + T * E * H + H + H * V + V

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainConfig:
    """Optimisation settings; the defaults are the lecture's recipe."""

    batch_size: int = 32
    lr: float = 0.1
    lr_decay: float = 0.1  # lr is multiplied by this at step decay_at
    decay_at: int = 100_000
    steps: int = 200_000
    seed: int = 2147483647  # the lecture's generator seed

    def validate(self) -> None:
        for name in ("batch_size", "steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.batch_size > MAX_BATCH:
            raise ConfigError(f"batch_size must be at most {MAX_BATCH:,}, got {self.batch_size:,}")
        if not isinstance(self.decay_at, int) or self.decay_at < 0:
            raise ConfigError(f"decay_at must be a step number >= 0, got {self.decay_at!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if not (isinstance(self.lr_decay, (int, float)) and math.isfinite(self.lr_decay) and self.lr_decay > 0):
            raise ConfigError(f"lr_decay must be a positive number, got {self.lr_decay!r}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")

    def lr_at(self, step: int) -> float:
        """Step decay: lr until decay_at, lr * lr_decay from then on."""
        return self.lr * self.lr_decay if step >= self.decay_at else self.lr

    def to_dict(self) -> dict:
        return asdict(self)

"""The controls' fields: what each one is, its range, and whether it applies live or on reset.

Pure Python: the app validates as you type without touching torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from core.config import INITS, MAX_BATCH, OPTIMIZERS, SCHEDULES
from core.data import BUILTIN, resolve_dataset


@dataclass(frozen=True)
class Field:
    key: str  # name in the app's settings (= the CLI flag with _ for -)
    label: str
    kind: str  # int, float, choice, bool, data
    live: bool  # applied to the running model (else: on reset)
    lo: float = 0
    hi: float = math.inf
    lo_open: bool = False  # lo itself is not allowed
    choices: tuple[str, ...] = ()
    help: str = ""
    optional: bool = False  # empty means "off" (None)


FIELDS: tuple[Field, ...] = (
    Field("data", "dataset", "data", False, help="built-in name (names, surnames) or a text file path"),
    Field("block_size", "context", "int", False, 1, 64, help="characters of context"),
    Field("emb_dim", "embedding", "int", False, 1, 4096, help="embedding size per character"),
    Field("hidden", "hidden", "int", False, 1, 100_000, help="tanh hidden units"),
    Field("init", "init", "choice", False, choices=INITS, help="weight initialisation"),
    Field("batchnorm", "batchnorm", "bool", False, help="batch norm before the tanh (makemore part 3)"),
    Field("batch_size", "batch", "int", False, 1, MAX_BATCH, help="examples per step"),
    Field("optimizer", "optimizer", "choice", False, choices=OPTIMIZERS, help="SGD (the lecture's) or AdamW"),
    Field("lr", "learn rate", "float", True, 0, 1000, lo_open=True, help="learning rate (live)"),
    Field("schedule", "schedule", "choice", True, choices=SCHEDULES, help="learning-rate schedule (live)"),
    Field("lr_decay", "decay x", "float", True, 0, 100, lo_open=True,
          help="step: lr multiplied by this at 'decay at'; cosine: the final lr is lr times this (live)"),
    Field("decay_at", "decay at", "int", True, 0, 10**9, help="step of the step schedule's decay (live)"),
    Field("warmup", "warm-up", "int", True, 0, 10**9, help="steps of linear lr warm-up (live)"),
    Field("weight_decay", "wt decay", "float", True, 0, 10, help="weight decay (live)"),
    Field("dropout", "dropout", "float", True, 0, 0.99, help="dropout on the hidden layer, 0 to 0.99 (live)"),
    Field("steps", "steps", "int", True, 1, 10**9, help="total training steps (live)"),
    Field("minutes", "minutes", "float", True, 0, 10**6, lo_open=True, optional=True,
          help="train for this many minutes instead of steps; empty: off (live)"),
    Field("seed", "seed", "int", False, 0, 2**63 - 1, help="seed for weights, batches and dropout"),
    Field("temperature", "temp", "float", True, 0, 100, lo_open=True, help="sampling temperature (live)"),
)
BY_KEY = {f.key: f for f in FIELDS}


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def parse(field: Field, text: str) -> tuple[object | None, str | None]:
    """(value, None) if text is a valid value for field, else (None, the reason in a few words)."""
    text = text.strip()
    if not text or (field.optional and text.lower() in ("off", "none")):
        return (None, None) if field.optional else (None, "required")
    if field.kind == "bool":
        low = text.lower()
        if low in ("true", "on", "yes", "1"):
            return True, None
        if low in ("false", "off", "no", "0"):
            return False, None
        return None, "on or off"
    if field.kind == "choice":
        return (text, None) if text in field.choices else (None, f"one of {', '.join(field.choices)}")
    if field.kind == "data":
        if text in BUILTIN:
            return text, None
        path = resolve_dataset(text)
        if not path.exists():
            return None, "no such file" if os.sep in text or "." in text else "not a file or built-in name"
        if path.is_dir():
            return None, "is a directory"
        return text, None
    try:
        value: float = int(text.replace("_", "").replace(",", "")) if field.kind == "int" else float(text)
    except ValueError:
        return None, "a whole number" if field.kind == "int" else "a number"
    if not math.isfinite(value):
        return None, "a finite number"
    if value < field.lo or (field.lo_open and value == field.lo):
        return None, f"must be > {_fmt(field.lo)}" if field.lo_open else f"must be >= {_fmt(field.lo)}"
    if value > field.hi:
        return None, f"must be <= {_fmt(field.hi)}"
    return value, None


def format_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def count_table_size(vocab: int, block: int) -> str:
    """vocab^(block+1): the entries a count-based model with the same context would need."""
    n = vocab ** (block + 1)
    return f"{n:,}" if n < 10**12 else f"{n:.2e}"

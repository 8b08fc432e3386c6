"""The controls' fields: what each one is, its range, and whether it applies live or on reset.

Pure Python: the app validates as you type without touching torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from core.config import BOUNDS, INITS, OPTIMIZERS, SCHEDULES, out_of_bounds
from core.data import BUILTIN, resolve_dataset


@dataclass(frozen=True)
class Field:
    key: str  # name in the app's settings (= the CLI flag with _ for -)
    label: str
    kind: str  # int, float, choice, bool, data
    live: bool  # applied to the running model (else: on reset)
    bound: str = ""  # the setting's name in core.config.BOUNDS, for numbers
    choices: tuple[str, ...] = ()
    help: str = ""
    optional: bool = False  # empty means "off" (None)


def _num(key: str, label: str, kind: str, live: bool, help: str, bound: str | None = None,
         optional: bool = False) -> Field:
    """A number field whose range is the setting's one range in core.config.BOUNDS."""
    assert (bound or key) in BOUNDS, key
    return Field(key, label, kind, live, bound or key, help=help, optional=optional)


FIELDS: tuple[Field, ...] = (
    Field("data", "dataset", "data", False, help="built-in name (names, surnames) or a text file path"),
    Field("dedupe", "dedupe", "bool", False, help="split by distinct word: no word in two splits"),
    _num("block_size", "context", "int", False, "characters of context"),
    _num("emb_dim", "embedding", "int", False, "embedding size per character", bound="n_embd"),
    _num("hidden", "hidden", "int", False, "tanh hidden units", bound="n_hidden"),
    Field("init", "init", "choice", False, choices=INITS, help="weight initialisation"),
    Field("batchnorm", "batchnorm", "bool", False, help="batch norm before the tanh (makemore part 3)"),
    _num("batch_size", "batch", "int", False, "examples per step"),
    Field("optimizer", "optimizer", "choice", False, choices=OPTIMIZERS, help="SGD (the lecture's) or AdamW"),
    _num("lr", "learn rate", "float", True, "learning rate (live)"),
    Field("schedule", "schedule", "choice", True, choices=SCHEDULES, help="learning-rate schedule (live)"),
    _num("lr_decay", "decay x", "float", True,
         "step: lr multiplied by this at 'decay at'; cosine: the final lr is lr times this (live)"),
    _num("decay_at", "decay at", "int", True, "step of the step schedule's decay (live)"),
    _num("warmup", "warm-up", "int", True, "steps of linear lr warm-up (live)"),
    _num("weight_decay", "wt decay", "float", True, "weight decay (live)"),
    _num("dropout", "dropout", "float", True, "dropout on the hidden layer, 0 to 0.9 (live)"),
    _num("steps", "steps", "int", True, "total training steps (live)"),
    _num("minutes", "minutes", "float", True, "train for this many minutes instead of steps; empty: off (live)",
         optional=True),
    _num("seed", "seed", "int", False, "seed for weights, batches and dropout"),
    _num("temperature", "temp", "float", True, "sampling temperature; 0: always the likeliest character (live)"),
)
# Settings of the command line that the form does not show (they apply to a whole run, not a live model).
CLI_ONLY: tuple[Field, ...] = (
    _num("patience", "patience", "int", False, "dev evaluations without a better loss before stopping"),
)
BY_KEY = {f.key: f for f in FIELDS + CLI_ONLY}


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
        if not path.is_file():
            return None, "not a regular file (a pipe or a device?)"
        return text, None
    try:
        value: float = int(text.replace("_", "").replace(",", "")) if field.kind == "int" else float(text)
    except ValueError:
        return None, "a whole number" if field.kind == "int" else "a number"
    if not math.isfinite(value):
        return None, "a finite number"
    reason = out_of_bounds(field.bound, value)
    return (None, reason) if reason else (value, None)


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

"""The controls' fields: the registry's settings that have one (core.settings), and how they show.

Pure Python: the app validates as you type without touching torch.
"""

from __future__ import annotations

from core.settings import BY_NAME, SETTINGS, Setting

FIELDS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.form)
BY_KEY: dict[str, Setting] = dict(BY_NAME)


def parse(field: Setting, text: str) -> tuple[object | None, str | None]:
    """(value, None) if text is a valid value for field, else (None, the reason in a few words)."""
    return field.parse(text)


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

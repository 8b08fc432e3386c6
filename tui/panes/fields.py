"""The controls' fields: the registry's settings that have one (core.settings), and how they show.

Pure Python: the app validates as you type without touching torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.settings import BY_NAME, SETTINGS, Setting, rule_errors

FIELDS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.form)
BY_KEY: dict[str, Setting] = dict(BY_NAME)


def parse(field: Setting, text: str) -> tuple[Any, str | None]:
    """(value, None) if text is a valid value for field, else (None, the reason in a few words)."""
    return field.parse(text)


def check_form(texts: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """What the form's fields say, given each field's text: (the valid values, the reason of each invalid
    field). A field's own reason comes first; then each cross-setting rule the valid values break
    (core.settings.RULES, the ones the command line and the Trainer run) is marked on the first setting
    its error names."""
    good: dict[str, Any] = {}
    bad: dict[str, str] = {}
    for f in FIELDS:
        value, reason = parse(f, texts[f.key])
        if reason is None:
            good[f.key] = value
        else:
            bad[f.key] = reason
    for error in rule_errors(good):
        bad.setdefault(error.names[0], str(error))
    return good, bad


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


def count_table_line(vocab: int, block: int, tokens: object = "chars") -> str:
    """The controls pane's line on the count table a model of this context replaces: |V|^(context + 1) entries,
    |V| the model's own vocabulary, named by its kind ("chars 27^4", "words 5,546^5")."""
    kind = {"words": "words", "bpe": "BPE"}.get(str(tokens), "chars")  # two lines that fit the pane's 26 cells
    return f"count table: {kind} {vocab:,}^{block + 1}\n= [b]{count_table_size(vocab, block)}[/] entries"

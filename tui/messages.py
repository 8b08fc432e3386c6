"""Messages between the panes and the app: small dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class LiveChange(Message):
    """A live field (lr, decay, steps, temperature) has a new valid value to apply now."""

    key: str
    value: float | int | str | None


@dataclass
class PendingChanged(Message):
    """The set of fields that differ from the running model and need a reset changed."""

    keys: tuple[str, ...]

"""Loss curves of runs of different kinds of token on one scale: bits per character.

A loss per token does not compare across kinds of token: a word carries ~4.5 characters of the King James Bible, a
character one. Bits per character does (core.measures). So when the plot overlays runs whose tokens differ
(characters, words, or BPE of different vocabulary sizes), every curve is drawn in bits per character: its losses
over ln 2 over its split's mean characters per token, which run.json stores (`chars_per_token`, written by
core.measures.chars_per_token) and the live run's Ready carries. The plot draws log10 values, so the conversion is
a shift: log10(bpc) = log10(loss) - log10(ln 2 x characters per token). Runs of one kind keep their losses, as
before. A run without the ratio (older than the field, or a word list, whose bits per character is not measured)
cannot be converted: it is left out of a bits-per-character plot with one line saying so, and if the current run
itself lacks it, the plot stays in losses. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOSS_UNIT, BPC_UNIT = "loss", "bpc"


@dataclass(frozen=True)
class Scale:
    """What a curve is measured in: its kind of token, and its splits' mean characters per token ({}: unknown)."""

    kind: str
    ratios: Mapping[str, float] = field(default_factory=dict)

    def shift(self, split: str = "train") -> float | None:
        """What turns a log10 loss of `split` into log10 bits per character (None without the ratio)."""
        r = self.ratios.get(split)
        return -math.log10(math.log(2) * r) if isinstance(r, (int, float)) and r > 0 else None


def token_kind(data: Mapping[str, Any] | None) -> str:
    """A run's kind of token from its data settings (run.json's "data", Ready's text): "chars", "words", or
    "bpe 4000" (BPE runs of different vocabulary sizes have different tokens)."""
    data = data or {}
    kind = str(data.get("tokens") or "chars")
    return f"bpe {data.get('bpe_vocab')}" if kind == "bpe" else kind


def ratios_of(value: Any) -> dict[str, float]:
    """A chars_per_token record, checked: positive finite floats by split (anything else is dropped)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): float(v) for k, v in value.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0}


def scale_of(data: Mapping[str, Any] | None, ratios: Any) -> Scale:
    return Scale(token_kind(data), ratios_of(ratios))


def run_scale(info: Mapping[str, Any]) -> Scale:
    """A run's scale from its run.json."""
    return scale_of(info.get("data"), info.get("chars_per_token"))


@dataclass
class Plan:
    """How to draw the live run and its overlays: the unit, the live curve's shifts (train, dev), each overlay's
    shift (None: left out), and a line to tell the user ("" when there is nothing to say)."""

    unit: str = LOSS_UNIT
    live: tuple[float, float] = (0.0, 0.0)
    shifts: dict[str, float | None] = field(default_factory=dict)
    note: str = ""


def plan(live: Scale | None, overlays: Mapping[str, Scale]) -> Plan:
    """Losses when every curve has one kind of token; else bits per character for every curve that has its ratio."""
    kinds = {s.kind for s in overlays.values()} | ({live.kind} if live is not None else set())
    if len(kinds) <= 1:
        return Plan(shifts=dict.fromkeys(overlays, 0.0))
    train, dev = (live.shift("train"), live.shift("dev")) if live is not None else (0.0, 0.0)
    if train is None or dev is None:
        return Plan(shifts=dict.fromkeys(overlays, 0.0), note=f"the runs have different kinds of token "
                    f"({', '.join(sorted(kinds))}) but this run has no characters per token (a word list?): losses per "
                    "token are plotted, which do not compare across kinds")
    shifts = {label: s.shift("train") for label, s in overlays.items()}
    missing = [label for label, v in shifts.items() if v is None]
    note = (f"{len(missing)} run{'s' if len(missing) > 1 else ''} without characters per token (older runs, word "
            f"lists) left out of the bits-per-character plot: {', '.join(missing)}") if missing else ""
    return Plan(BPC_UNIT, (train, dev), shifts, note)


def shifted(vals: list[float], shift: float) -> list[float]:
    """log10 losses moved by a shift (log10 bits per character when it is a Scale's)."""
    return vals if not shift else [v + shift for v in vals]

"""Sizes in bytes as people read them (1.5 GiB): the one formatter of every message that states a size.

Torch-free and dependency-free, so the settings' checks, the data loader and the run files' readers share it.
"""

from __future__ import annotations

UNITS = {"TiB": 2**40, "GiB": 2**30, "MiB": 2**20, "KiB": 2**10, "bytes": 1}


def format_size(n: float, unit: str | None = None, largest: str = "TiB", smallest: str = "KiB",
                decimals: int = 1) -> str:
    """`n` bytes with `decimals` decimals, in `unit` if given, else in the largest unit from `largest` down to
    `smallest` that n reaches (below all of them: in `smallest`). "bytes" are shown whole."""
    if unit is None:
        names = list(UNITS)
        span = names[names.index(largest): names.index(smallest) + 1]
        unit = next((u for u in span if n >= UNITS[u]), smallest)
    if unit == "bytes":
        return f"{n:,.0f} bytes"
    return f"{n / UNITS[unit]:,.{decimals}f} {unit}"

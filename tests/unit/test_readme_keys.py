"""The README's key table lists every key of the app's main screen (tui/keys.py), so a key added there is
documented: `x` (the exercises view) and `g` (a screenshot) were missing."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_keys() -> set[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("| key | action |") + 2
    keys: set[str] = set()
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        keys.update(k.strip() for k in line.split("|")[1].split(" / "))
    return keys


def test_every_key_is_in_the_readme():
    from tui.keys import KEYS

    missing = {k.label for k in KEYS} - readme_keys()
    assert not missing, f"add to the README's key table: {sorted(missing)}"

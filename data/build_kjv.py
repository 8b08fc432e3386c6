"""Build kjv.txt, the built-in running text: the King James Bible, one verse per line.

Source: Debian's `bible-kjv-text` package (the Bible Retrieval System's data, read through its `bible`
command from the `bible-kjv` package): `apt-get install bible-kjv`, then `python data/build_kjv.py`.
`bible "Gen1:1-Rev22:21"` prints every book with a heading ("Genesis 1") before each chapter, each verse
after its number ("  1 In the beginning ..."), wrapped at 80 columns. This script drops the headings and
the verse numbers and joins each verse's wrapped lines into one line, in the Bible's order; the words are
left as printed (no case folding, punctuation attached), as mlp-tui's --format text normalises them.

Licence: the King James Version (1611) is in the public domain (its copyright has expired, as the
package's copyright file, /usr/share/doc/bible-kjv-text/copyright, says); the package's data file is
"provided for unrestricted use" by its author, Chip Chapin (1989).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSE = re.compile(r"^\s+\d+ (.*)$")  # "  12 And God said ..." -> the verse's text


def verses(printed: str) -> list[str]:
    """Each verse as one line: headings (a line after a blank one that is not a numbered verse) dropped."""
    out: list[str] = []
    after_blank = True
    for line in printed.splitlines():
        if not line.strip():
            after_blank = True
            continue
        m = VERSE.match(line)
        if m:
            out.append(m.group(1).strip())
        elif not after_blank and out:
            out[-1] += " " + line.strip()  # a wrapped verse goes on
        after_blank = False
    return [" ".join(v.split()) for v in out]


def main() -> None:
    if shutil.which("bible") is None:
        raise SystemExit("the `bible` command is needed: apt-get install bible-kjv")
    printed = subprocess.run(["bible", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    lines = verses(printed)
    (HERE / "kjv.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"kjv.txt: {len(lines):,} verses, {sum(len(v.split()) for v in lines):,} words")


if __name__ == "__main__":
    main()

"""Atomic file replacement: a temp file in the same folder, flushed to disk, then renamed over the target.

A reader (or a kill -9 in the middle) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

UMASK = os.umask(0o022)  # the process's umask, read once (os.umask can only be read by setting it) and put back
os.umask(UMASK)


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[Any]], None], binary: bool = True) -> Path:
    """Call write(f) on a temp file next to `path`, fsync it, and rename it over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~UMASK)  # as open() would make it, not mkstemp's owner-only 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

"""A run's append-only files (losses, evaluations, samples) opened safely: the writer's one way to open them."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import IO, Any

from core.runs.files import safe_text
from core.runs.folder import RunError


def open_append(path: Path, text: bool) -> IO[Any]:
    """A run file opened to append: never through a symlink (it could point at the user's files), never a
    FIFO or device (it would block or write elsewhere), created if missing."""
    import stat as st

    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO):
            raise RunError(f"{safe_text(path.parent)}: damaged run ({path.name} is a link or a pipe, not a file)") \
                from None
        raise
    if not st.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunError(f"{safe_text(path.parent)}: damaged run ({path.name} is not a regular file)")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a" if text else "ab", encoding="utf-8" if text else None)

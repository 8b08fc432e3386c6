"""One trainer per run folder: an OS file lock on RUN/lock, held while the folder is being trained.

flock(2) locks belong to the open file, and the kernel drops them when the process ends however it
ends, so a kill -9 or a power cut leaves no stale lock to clean up. The file holds the pid of the
holder, for messages ("being trained by another mlp-tui, pid N") and for `mlp-tui runs`.
Where fcntl is missing (Windows), runs are not locked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import ModuleType

from core.runs.files import FileRefused, open_regular

fcntl: ModuleType | None
try:
    import fcntl as posix_locks

    fcntl = posix_locks
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None

LOCK = "lock"


class RunLocked(Exception):
    """The run folder is being trained by another process (or another trainer of this one)."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(pid)
        self.pid = pid


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


class RunLock:
    """Hold the lock of a run folder; RunLocked if someone else holds it."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.fd: int | None = None
        if fcntl is None:
            return
        fd = os.open(Path(folder) / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError("the lock is not a regular file")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(fd)
            os.close(fd)
            raise RunLocked(pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing the file drops the lock


def holder(folder: str | os.PathLike[str]) -> int | None:
    """The pid training this run folder now (0 if it cannot be read), or None if nobody is."""
    if fcntl is None:
        return None
    try:
        fd, _ = open_regular(Path(folder) / LOCK, follow=False)
    except (OSError, FileRefused):
        return None  # no lock file (never trained by this version, or a foreign thing): nobody holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid_in(fd) or 0
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)

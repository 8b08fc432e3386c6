"""The borders where bytes cross: files read back from disk, outputs a user names, text bound for a terminal.

Every reader of a run folder or a checkpoint goes through `read_regular`, so a FIFO, a device or a
huge file is refused before it can block or fill memory. Every output a command writes goes through
`output_file`, which never writes over a file the command is reading and replaces a regular file only
once the new content is whole. `safe_text` is applied to anything from a file that is printed.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from core.errors import MLPTuiError
from core.sizes import format_size

# The one rule for characters that may not reach a terminal raw, nor be part of a word (core.data's loader
# and the checkpoint's vocabulary use it too): controls (Cc: C0 and C1, escape among them, DEL), format
# characters (Cf: the bidirectional overrides and isolates that show text in another order than it is stored,
# invisible marks such as U+200E/F and U+FEFF), line and paragraph separators (Zl, Zp) and lone surrogates
# (Cs: a file name that is not UTF-8 arrives as them; printed raw, its bytes can be an 8-bit CSI). The
# zero-width joiner and non-joiner are kept: Persian, Hindi and emoji are spelled with them, and they move
# nothing on screen.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
ALLOWED_FORMAT = frozenset("\u200c\u200d")


def is_refused(c: str) -> bool:
    """Whether the character `c` may not be printed raw or be part of a word (see REFUSED_CATEGORIES)."""
    return unicodedata.category(c) in REFUSED_CATEGORIES and c not in ALLOWED_FORMAT


class FileRefused(MLPTuiError):
    """A file that is not a regular file, or too large to read; the message says which, without the path."""


class OutputError(MLPTuiError):
    """An output that would destroy an input, or that cannot be written."""


class PathError(MLPTuiError):
    """A path a user gave that names no place: ~ of an unknown user, empty, a NUL in it."""


def user_path(path: str | os.PathLike[str]) -> Path:
    """A path as a user gave it (a flag, a recipe, $MLP_TUI_RUNS_DIR), with a leading ~ or ~user expanded.

    Every path a user gives goes through here: Path.expanduser raises a bare RuntimeError for ~ of an
    unknown user (or no $HOME), which would be a traceback in every command. PathError says why instead."""
    text = os.fsdecode(os.fspath(path))
    if not text:
        raise PathError("an empty path; give a file or folder name")
    if "\x00" in text:
        raise PathError(f"{safe_text(text, 80)}: a path cannot hold a NUL character")
    if text.startswith("~"):
        expanded = os.path.expanduser(text)  # left as it is when the home folder is unknown
        if expanded.startswith("~"):
            head = re.split(r"[/\\]", text[1:], maxsplit=1)[0]
            why = (f"there is no user named {safe_text(head, 40)!r} here" if head else
                   "the home folder is not known ($HOME is not set)")
            raise PathError(f"{safe_text(text, 200)}: {why}, so ~{safe_text(head, 40)} cannot be expanded; give the "
                            f"full path (./{safe_text(text, 200)} for a folder of that name here)")
        return Path(expanded)
    p = Path(text)
    if str(p).startswith("~"):  # ./~name: pathlib drops the ./ and a later expanduser would take it for a home
        return Path(os.path.abspath(text))
    return p


def safe_text(text: object, limit: int | None = None) -> str:
    """`text` with control characters shown as escapes (\\x1b), so a file cannot drive the terminal."""
    s = str(text)
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    if s.isprintable():  # False for every refused character (and for spaces but ' '): the common case is quick
        return s
    return "".join(_escaped(c) if is_refused(c) else c for c in s)


def _escaped(c: str) -> str:
    n = ord(c)
    return repr(c)[1:-1] if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


# What a terminal whose encoding lacks a character shows instead (PYTHONIOENCODING=ascii, a latin-1 locale):
# the punctuation we print as its ASCII look-alike; a letter as its base letter (ë as e); anything else as ?.
_LOOKALIKES = {"·": "-", "…": "...", "—": "-", "–": "-", "→": "->", "←": "<-", "✓": "v", "✗": "x", "×": "x",
               "≈": "~", "≤": "<=", "≥": ">=", "±": "+-", "‘": "'", "’": "'", "“": '"', "”": '"', "•": "*",
               "█": "#", "░": ".", "▏": "|", "│": "|", "─": "-"}
REPLACE = "mlp-tui-replace"


def _lookalike(e: UnicodeError) -> tuple[str, int]:
    if not isinstance(e, UnicodeEncodeError):
        raise e
    out = []
    for c in e.object[e.start:e.end]:
        alike = _LOOKALIKES.get(c)
        if alike is None:
            alike = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode() or "?"
        out.append(alike)
    return "".join(out), e.end


codecs.register_error(REPLACE, _lookalike)


class WholeWrites(io.RawIOBase):
    """A file descriptor whose every write goes through to the end, or raises. The kernel may take only part
    of a write (a disk filling up); Python's buffered writer then drops the rest of a large write without a
    word (CPython 3.11: `sys.stdout.write("x" * 36000)` onto a disk with 4 KB left writes 4 KB and exits 0),
    so `mlp-tui sample -n 5000 > file` made a short file and said nothing. Here the next write raises ENOSPC,
    which the command line says in one line."""

    def __init__(self, fd: int, name: str) -> None:
        super().__init__()
        self.fd, self.name = fd, name

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self.fd, view[done:])
        return done


def _whole(stream: Any, name: str) -> Any:
    """The process's own stream `stream` rebuilt on WholeWrites, with the same encoding and buffering."""
    stream.flush()
    fd = stream.fileno()
    raw = WholeWrites(fd, name)
    buffered = io.BufferedWriter(raw)
    return io.TextIOWrapper(buffered, encoding=stream.encoding, errors=REPLACE, newline=None,
                            line_buffering=stream.line_buffering, write_through=stream.write_through)


def tolerant_streams() -> None:
    """Make stdout and stderr write what their encoding cannot hold as a look-alike (or ?) instead of raising
    UnicodeEncodeError: the one writer every command prints through, so `·`, `ë` or a run's name never crash a
    command on an ASCII or latin-1 terminal, error lines included. The process's own streams (not a test's
    capture) also write each write whole, or fail (WholeWrites)."""
    import sys

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is getattr(sys, f"__{name}__") and isinstance(stream, io.TextIOWrapper):
            try:
                setattr(sys, name, _whole(stream, f"<{name}>"))
                continue
            except (ValueError, OSError, AttributeError):  # closed, or not on a file descriptor
                pass
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=REPLACE)
            except (ValueError, OSError):  # closed, or not a text wrapper after all
                pass


def has_unsafe(text: str) -> bool:
    return not text.isprintable() and any(map(is_refused, text))


def _size(n: float) -> str:
    """A file's size as the refusals state it: up to GiB, whole bytes below a KiB."""
    return format_size(n, largest="GiB", smallest="bytes")


def open_regular(path: str | os.PathLike[str], follow: bool = True) -> tuple[int, os.stat_result]:
    """A regular file opened for reading, as (its descriptor, its fstat), the caller to close it; FileRefused if it
    is not a regular file, FileNotFoundError if absent (other OSErrors as os.open raises them).

    Opened without blocking, so a FIFO put where a run file belongs cannot hang the reader, and checked
    with fstat on the open file, so nothing is swapped in between the check and the read. follow=False: a
    symlink is refused too (O_NOFOLLOW, where there is one).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags if follow else flags | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused("is not a regular file (a device, a pipe or a folder?)")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; FileRefused otherwise, FileNotFoundError if absent
    (opened as open_regular opens it)."""
    fd, st = open_regular(path)
    try:
        if st.st_size > limit:
            raise FileRefused(f"is {_size(st.st_size)}, more than the {_size(limit)} it can be")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)  # bounded even if the file grows while it is read
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileRefused(f"is more than the {_size(limit)} it can be")
    return data


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_output(path: Path, protected: Iterable[Path]) -> None:
    """OutputError if `path` is (a link to) any of the protected files: a command never overwrites its input."""
    for p in protected:
        if _same(path, p):
            raise OutputError(f"{safe_text(path)}: is {safe_text(p.name)} of the run being read; "
                              f"choose another file (nothing was written)")


def check_stream(stream: TextIO, name: str, protected: Iterable[Path]) -> None:
    """check_output for an already open stream (stdout redirected by the shell): compared by device and inode."""
    try:
        out = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return  # not a file (a closed or replaced stream): nothing of the run can be behind it
    for p in protected:
        try:
            st = os.stat(p)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
            raise OutputError(f"{name} is {safe_text(p.name)} of the run being read; write elsewhere "
                              f"(nothing was written)")


@contextlib.contextmanager
def output_file(path: str | os.PathLike[str], protected: Iterable[Path] = ()) -> Iterator[TextIO]:
    """A text stream for a command's output file.

    A regular file (or a new one) is written to a temp file beside it and renamed into place at the
    end, so a failure leaves the old file as it was; anything else (/dev/stdout, a pipe, a terminal)
    is written directly. OutputError for a protected file or a write that fails.
    """
    target = user_path(path)
    check_output(target, protected)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise OutputError(f"{safe_text(target)}: cannot write ({e.strerror or e})") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{safe_text(target)}: is a folder; give a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):  # a device or a pipe: no rename there
        try:
            with open(target, "w", encoding="utf-8", newline="") as f:
                yield f
        except BrokenPipeError:
            raise  # the reader has gone (`-o /dev/stdout | head`): the caller ends quietly
        except OSError as e:
            raise OutputError(f"{safe_text(target)}: cannot write ({e.strerror or e})") from None
        return
    try:
        real = target.resolve()  # write through a symlink to its file, not over the link
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    except OSError as e:
        raise OutputError(f"{safe_text(target)}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{safe_text(target)}: cannot write ({e.strerror or e}); the old file is as it was"
                          if st is not None else f"{safe_text(target)}: cannot write ({e.strerror or e})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    from core.runs.atomic import UMASK

    return UMASK

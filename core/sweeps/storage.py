"""Where studies live: opening a storage URL, printing one (passwords hidden), and its errors in one line.

Every place that prints a storage URL or an error that may quote one (the sweep commands, the app's
sweeps view, the workers) goes through `hide_password`. The storage's own failures (a damaged or full
SQLite file, a locked one, a server away) become a `SweepError` here, said in one line. Optuna and
SQLAlchemy are imported only inside functions, so this module loads without them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import MLPTuiError
from core.runs.files import safe_text

HEARTBEAT = 10  # seconds between a worker's heartbeats; a trial silent for 3 of them is stale
DB_NAME = "sweeps.db"
SQLITE_WAIT = 60  # seconds a command waits for a locked SQLite file before it gives up

# scheme://user:password@host: the password runs to the last @ of the word, as SQLAlchemy reads it
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/\s]*):(?P<pw>\S*)@(?P<tail>[^@\s]*)")
# ... and of the whole URL, when the text is the URL itself: a password may hold spaces there
_URL_USERINFO = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.\-]*://[^:/\s]*:(?P<pw>.*)@[^@]*$", re.DOTALL)
# a parameter whose name ends in password, passwd, pwd or pass (password=, sslpassword=, PWD= in an ODBC
# string), its separators plain or percent-encoded (odbc_connect=...%3BPWD%3Dsecret), its value maybe quoted
_SEP, _EQ, _END = r"(?:[?&;]|%3B|%26)", r"(?:=|%3D)", r"(?:%3B|%26)"
_PARAM = re.compile(rf"(?P<head>{_SEP}[A-Za-z0-9_.\-]*?(?:password|passwd|pwd|pass){_EQ})"
                    rf"(?P<pw>\"[^\"]*\"|'[^']*'|(?:(?!{_END})[^&;\s'\"])*)", re.IGNORECASE)


def _secrets(url: str) -> set[str]:
    """The passwords of `url` as a message may repeat them: as written, percent-decoded, unquoted."""
    from urllib.parse import unquote

    found = [m.group("pw") for m in _USERINFO.finditer(url)] + [m.group("pw") for m in _PARAM.finditer(url)]
    whole = _URL_USERINFO.match(url)
    if whole is not None:
        found.append(whole.group("pw"))
    out: set[str] = set()
    for pw in found:
        for form in (pw, unquote(pw), pw.strip("'\""), unquote(pw).strip("'\"")):
            if len(form) >= 3 and form != "***":
                out.add(form)
    return out


class SweepError(MLPTuiError):
    """A sweep cannot start or a study cannot be read (said in one line)."""


def hide_password(text: str, url: str | None = None) -> str:
    """`text` (a URL, or a message that may quote one) fit to print: every password in a URL's user part or in
    a password= parameter becomes ***, and so does any password of `url` that `text` repeats on its own."""
    secrets = _secrets(url or text)  # (text alone: a URL itself, maybe)
    out = text
    for secret in sorted(secrets, key=len, reverse=True):  # first: a password with spaces, as it is given
        out = out.replace(secret, "***")
    out = _USERINFO.sub(lambda m: f"{m.group('head')}:***@{m.group('tail')}", out)
    return _PARAM.sub(lambda m: f"{m.group('head')}***", out)


def shown(url: str) -> str:
    """A storage URL as every message prints it: password hidden, control characters escaped."""
    return safe_text(hide_password(url, url))


def storage_url(root: Path) -> str:
    """The default storage of the studies of a runs folder: an SQLite file in it."""
    return f"sqlite:///{root / DB_NAME}"


def in_memory(url: str) -> bool:
    """An SQLite store in memory (`sqlite://`, `sqlite:///:memory:`, mode=memory): each process has its own."""
    m = re.match(r"sqlite(?:\+\w+)?://(?P<rest>.*)$", url.strip(), re.IGNORECASE)
    if m is None:
        return False
    rest = m.group("rest")
    path = rest[1:] if rest.startswith("/") else rest
    return path.split("?")[0] in ("", ":memory:") or ":memory:" in path or "mode=memory" in rest


def sqlite_file(url: str) -> Path | None:
    """The file of an sqlite:/// URL (None for other URLs)."""
    m = re.match(r"sqlite(?:\+\w+)?:///(?P<path>[^?]+)", url.strip(), re.IGNORECASE)
    return None if m is None or in_memory(url) else Path(m.group("path"))


def check_url(url: str, reading: bool) -> None:
    """Refuse a storage that cannot serve: one in memory (the workers are other processes), and, when
    only reading, an SQLite file that is not there (opening it would make an empty one)."""
    if in_memory(url):
        raise SweepError(f"--storage {shown(url)}: a store in memory cannot be shared between processes (the "
                         f"workers, sweep show, the app); give a file, such as sqlite:///sweeps.db")
    path = sqlite_file(url)
    if reading and path is not None and not path.is_file():
        what = "is not a file" if os.path.lexists(path) else "does not exist"
        raise SweepError(f"no sweeps at {shown(url)}: {safe_text(path)} {what} (mlp-tui sweep makes it)")


def _locked(path: Path) -> bool:
    """Whether another process holds the SQLite file locked (probed for at most 0.2 s)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError as e:
        return "locked" in str(e) or "busy" in str(e)
    except sqlite3.Error:
        return False  # damaged or not a database: opening it says so
    return False


def wait_note(url: str, out: Any = None) -> None:
    """Say at once when an SQLite file is locked by another process, then wait up to SQLITE_WAIT s for it here,
    in short probes: SQLite's own wait is one call into C, through which Ctrl+C went unheard for the whole
    60 s. Still locked then: a one-line SweepError."""
    import time

    path = sqlite_file(url)
    if path is None or not path.is_file() or not _locked(path):
        return
    print(f"waiting for {safe_text(path)}: another process holds it locked (a sweep writing to it?); "
          f"giving up after {SQLITE_WAIT} s", file=out or sys.stderr, flush=True)
    deadline = time.monotonic() + SQLITE_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.1)  # (a signal is handled here at once)
        if not _locked(path):
            return
    raise SweepError(f"--storage {shown(url)}: another process kept it locked for over {SQLITE_WAIT} s")


def open_storage(url: str, heartbeat: int = HEARTBEAT, reading: bool = False) -> Any:
    """An Optuna storage with heartbeats for URL: an SQLAlchemy URL, or journal:PATH for a journal file."""
    import warnings

    import optuna

    check_url(url, reading)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed or skipped trial is told in our own words
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats: stable enough
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        try:  # (a journal has no heartbeats: a killed worker's trial stays running; see the README)
            return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:"):]))
        except OSError as e:
            raise SweepError(f"--storage {shown(url)}: cannot open the journal ({e.strerror or e})") from None
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql://") and _has("psycopg") and not _has("psycopg2"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]  # SQLAlchemy's default driver is psycopg2
    if url.startswith("sqlite"):
        wait_note(url)
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": SQLITE_WAIT}}  # workers take turns writing the file
    try:
        with storage_errors(url):
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=heartbeat, grace_period=3 * heartbeat, **kwargs)
    except ImportError as e:  # a driver that is not installed (psycopg for postgresql://)
        raise SweepError(f"--storage {shown(url)}: {hide_password(str(e), url)}; {driver_hint(url)}") from None
    except SweepError:
        raise
    except Exception as e:  # noqa: BLE001 - SQLAlchemy's errors for a bad URL or a server that is not there
        first = str(e).splitlines()[0][:200] if str(e) else ""
        raise SweepError(f"--storage {shown(url)}: cannot open it ({type(e).__name__}: "
                         f"{safe_text(hide_password(first, url))})") from None


def driver_hint(url: str) -> str:
    """What to install for a URL's database driver."""
    if url.startswith("postgresql"):
        return "install the driver: pip install 'mlp-tui[postgres]'"
    return "install the database's driver for SQLAlchemy (see the README's sweeps section)"


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def cause(e: BaseException) -> str | None:
    """Why the storage failed, in a few words, if an error in `e`'s chain comes from the storage; else None."""
    seen: set[int] = set()
    found = None
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        module = type(e).__module__ or ""
        if module.startswith(("sqlite3", "sqlalchemy", "optuna.exceptions", "psycopg", "pymysql")):
            if module.startswith("sqlite3") or found is None or "StorageInternalError" in found:
                found = str(e).splitlines()[0] if str(e) else type(e).__name__
        e = e.__cause__ or e.__context__  # type: ignore[assignment]
    if found is None:
        return None
    low = found.lower()
    if "disk is full" in low or "no space" in low:
        return "the disk is full (database or disk is full)"
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return f"the file is damaged ({found[:120]})"
    if "locked" in low:
        return f"another process kept it locked for over {SQLITE_WAIT} s ({found[:120]})"
    if "readonly" in low or "read-only" in low:
        return f"it is read-only ({found[:120]})"
    return found[:200]


@contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """A storage's own failure (damaged, full, locked, read-only, away) as a one-line SweepError."""
    try:
        yield
    except SweepError:
        raise
    except Exception as e:  # noqa: BLE001 - the storage's errors come from optuna, SQLAlchemy or a driver
        why = cause(e)
        if why is None:
            raise
        raise SweepError(f"--storage {shown(url)}: {safe_text(hide_password(why, url))}") from None


def runs_root(runs_dir: str | os.PathLike[str] | None, writing: bool) -> Path:
    """The runs folder of a sweep (made if missing when `writing`), checked: a file, a folder under a file
    or one that cannot be written is a one-line SweepError, as `train` says it."""
    from core.runs.folder import default_runs_dir

    root = Path(runs_dir).expanduser() if runs_dir is not None else default_runs_dir()
    flag = "--runs-dir " if runs_dir is not None else "the runs folder "
    found = next((p for p in (root, *root.parents) if os.path.lexists(p)), None)
    if found is not None and not found.is_dir():
        raise SweepError(f"{flag}{safe_text(root)}: not a folder"
                         + (f" ({safe_text(found)} is a file)" if found != root else ""))
    if not writing:
        return root
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SweepError(f"{flag}{safe_text(root)}: cannot make the folder ({e.strerror or e})") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise SweepError(f"{flag}{safe_text(root)}: cannot write there (read-only)")
    return root


def default_storage(runs_dir: str | os.PathLike[str] | None, writing: bool = True) -> str:
    """storage_url of the runs folder `runs_dir` (else the default one), checked by runs_root."""
    return storage_url(runs_root(runs_dir, writing))

"""The one place that installs signal handlers: every process of ours that stops on a signal uses it.

A stop signal (Ctrl+C's SIGINT, SIGTERM, SIGHUP from a closed terminal) never interrupts a step: it is
recorded, and the loop that owns the process checks `StopSignals.signal` between chunks, saves what it
has and ends. A loop that never gets there (its main thread blocked in a read that does not return: a
FIFO where a file was expected) would leave the process deaf to every signal: with `grace`, a signal the
loop has not read within that many seconds ends the process there and then. Handlers can only be installed
from the main thread; elsewhere (the training process run as a thread, for bench/app_speed.py)
`StopSignals` records nothing and leaves the process's handlers alone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# The signals that mean "stop and keep the work": SIGHUP does not exist on Windows.
STOP_NAMES = ("SIGINT", "SIGTERM", "SIGHUP")
BLOCKED_GRACE = 5.0  # seconds a loop has to notice a stop signal before the process ends without it (`train`)


def available(names: tuple[str, ...]) -> list[signal.Signals]:
    """The named signals this platform has."""
    return [getattr(signal, n) for n in names if hasattr(signal, n)]


def exit_status(signum: int | str) -> int:
    """A shell's status for a process that stopped on `signum` (a number or a name such as "SIGTERM"): 130 for
    Ctrl+C, 143 for SIGTERM."""
    return 128 + int(signal.Signals[signum] if isinstance(signum, str) else signum)


def detach_on_hangup(signum: int) -> None:
    """An `on_signal` for SIGHUP: the terminal is gone, so stdout and stderr go to /dev/null (a write to the
    dead terminal would fail and lose the save that follows)."""
    if signum != getattr(signal, "SIGHUP", None):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


class StopSignals:
    """Record the first stop signal instead of dying on it; restore the old handlers on exit.

    `names` are caught; `ignore` are ignored while installed (the training process leaves Ctrl+C to the
    UI). `on_signal` runs in the handler, after recording, for what cannot wait for the loop (a terminal
    that has gone must not be written to)."""

    def __init__(self, names: tuple[str, ...] = STOP_NAMES, ignore: tuple[str, ...] = (),
                 on_signal: Callable[[int], None] | None = None, grace: float | None = None) -> None:
        self.names, self.ignore, self.on_signal, self.grace = names, ignore, on_signal, grace
        self._signal: int | None = None
        self._arrived, self._noticed = threading.Event(), threading.Event()
        self._old: dict[int, Any] = {}

    @property
    def signal(self) -> int | None:
        """The first stop signal, or None. Reading it is the loop noticing: the grace watchdog stands down."""
        if self._signal is not None:
            self._noticed.set()
        return self._signal

    @property
    def name(self) -> str | None:
        """The recorded signal's name (SIGTERM, ...), or None."""
        return None if self.signal is None else signal.Signals(self.signal).name

    def _handle(self, signum: int, frame: Any) -> None:
        if self._signal is None:
            self._signal = signum
            self._arrived.set()  # (the watchdog's thread was started at install: none is started in a handler)
        if self.on_signal is not None:
            self.on_signal(signum)

    def _watch(self) -> None:
        """Wait `grace` seconds of the process running for the loop to notice. Time stopped (SIGTSTP, then fg)
        does not count: a long gap between two short waits is a stop, not a block."""
        self._arrived.wait()
        waited = 0.0
        while waited < (self.grace or 0.0):
            t = time.monotonic()
            if self._noticed.wait(0.25):
                return
            waited += min(time.monotonic() - t, 0.5)
        self._overdue()

    def _overdue(self) -> None:
        """The watchdog: the loop did not notice the signal in time, so its main thread is stuck. End now, with a
        line saying why (what was saved before stays; the kernel drops the run's lock)."""
        if self._noticed.is_set() or self._signal is None:
            return
        name = signal.Signals(self._signal).name
        line = (f"mlp-tui: stopped on {name} without a last save: the process was blocked for {self.grace:g} s "
                f"(a read that does not return, such as a pipe where a file should be)\n")
        try:
            os.write(2, line.encode("ascii", "replace"))
        except OSError:
            pass
        os._exit(exit_status(self._signal))

    def install(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self  # a thread: the process's signals are not ours
        for s in available(self.names):
            self._old.setdefault(s, signal.signal(s, self._handle))
        for s in available(self.ignore):
            self._old.setdefault(s, signal.signal(s, signal.SIG_IGN))
        if self.grace is not None:
            threading.Thread(target=self._watch, name="stop-watchdog", daemon=True).start()
        return self

    def restore(self) -> None:
        self._noticed.set()  # (a watchdog still waiting stands down)
        self._arrived.set()
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()

    def __enter__(self) -> StopSignals:
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.restore()

    @contextmanager
    def ignoring(self, name: str) -> Iterator[None]:
        """Ignore one signal for a while, then catch it again (children spawned meanwhile inherit the ignore,
        so a Ctrl+C cannot reach them before they install their own handlers)."""
        sigs = available((name,))
        for s in sigs:
            signal.signal(s, signal.SIG_IGN)
        try:
            yield
        finally:
            for s in sigs:
                signal.signal(s, self._handle)


def ignore(name: str) -> None:
    """Ignore a signal from now on (a second Ctrl+C while the process saves and exits)."""
    for s in available((name,)):
        signal.signal(s, signal.SIG_IGN)


def on_event_loop(loop: Any, callback: Callable[[str], None], names: tuple[str, ...] = ("SIGTERM", "SIGHUP")) -> bool:
    """Route stop signals to `callback(name)` on an asyncio loop (the app). False where the loop cannot."""
    try:
        for s in available(names):
            loop.add_signal_handler(s, callback, s.name)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True

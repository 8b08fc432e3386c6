"""The transport between the app and its training process: plain-data commands in, events and frames out.

Why a process: a UI rendering plots in the same process holds the GIL between the trainer's small
torch ops and costs it 23-40% of its speed; in its own process the trainer keeps ~95%. training_main is
the process's loop (commands between chunks, signals, the parent's health); core.link.pump is the pump it
runs, around a core.engine.session.Session. TrainerThread runs the same loop in a thread, for the tests and
for measuring the choice (bench/app_speed.py).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
from typing import Any

from core.link import protocol as P
from core.link import pump
from core.signals import StopSignals
from core.status import Status


def coalesce(cmds: list[Any]) -> list[Any]:
    """The commands in order, with only the last of each P.LATEST_ONLY type kept (in its place)."""
    last = {type(c): i for i, c in enumerate(cmds) if isinstance(c, P.LATEST_ONLY)}
    return [c for i, c in enumerate(cmds) if not isinstance(c, P.LATEST_ONLY) or last[type(c)] == i]


def training_main(cmd_q: Any, out_q: Any) -> None:
    """The training process: apply commands between chunks, train while active, publish frames."""
    import torch

    import core  # noqa: F401  (quiets torch's NumPy warning)

    torch.set_num_threads(1)  # small ops: one thread is faster and stable (ARCHITECTURE.md, "Measured")
    # SIGTERM or SIGHUP (a closed terminal: the whole process group gets it) ends the loop like quit, and the
    # run is saved on the way out; SIGINT is the UI's to handle, so it is ignored here. Never restored: the
    # process ends with this loop. (A thread backend installs nothing: the process's signals are not ours.)
    stop = StopSignals(("SIGTERM", "SIGHUP"), ignore=("SIGINT",)).install()
    w = pump.Pump(out_q)  # looked up at start, so that a test can record the pumps
    parent = mp.parent_process()  # None when the training process is a thread
    w.give_up = lambda: stop.signal is not None or (parent is not None and not parent.is_alive())
    last_check = time.monotonic()
    try:
        while stop.signal is None:
            cmds = []
            try:
                cmds.append(cmd_q.get_nowait() if w.active else cmd_q.get(timeout=0.1))
                while True:
                    cmds.append(cmd_q.get_nowait())
            except queue.Empty:
                pass
            if any(isinstance(c, P.Quit) for c in cmds):
                return  # before a pause's evaluation or a lr sweep queued ahead of it: quit is prompt
            for cmd in coalesce(cmds):
                if not w.handle_safely(cmd):
                    return
            if w.trainer is not None:
                w.tick()
            if parent is not None and time.monotonic() - last_check > 1.0:
                last_check = time.monotonic()
                if not parent.is_alive():  # the UI was killed: save what was trained and stop
                    return
    except KeyboardInterrupt:
        pass
    except Exception as e:  # never die silently: the UI shows this and stays up
        w.send(P.Fatal(f"training process failed: {type(e).__name__}: {e}"))
    finally:
        try:
            w.close_run(Status.STOPPED)  # whatever happened, what was trained is on disk
        except Exception:
            pass
        if parent is not None:  # a process of its own: the run is saved, so skip torch's slow teardown
            try:  # (~0.5 s, which made quitting wait for the kill timeout) once what was sent has gone out
                if w.give_up():  # a UI that is gone or stuck reads nothing more: do not wait for it
                    out_q.cancel_join_thread()
                out_q.close()
                out_q.join_thread()
            finally:
                os._exit(0)


class TrainerProcess:
    """The UI's handle on the training process (spawned, so it shares nothing with the UI)."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.commands = ctx.Queue()
        self.results = ctx.Queue(pump.OUT_QUEUE_SIZE)  # bounded: see Pump.send
        self.process = ctx.Process(target=training_main, args=(self.commands, self.results), daemon=True,
                                   name="mlp-tui-trainer")

    def start(self) -> None:
        self.process.start()

    def send(self, command: Any) -> None:
        """A command of core.link.protocol to the training process."""
        self.commands.put(command)

    def poll(self, limit: int = 200) -> list[Any]:
        """Everything that has arrived, without blocking."""
        out = []
        for _ in range(limit):
            try:
                out.append(self.results.get_nowait())
            except queue.Empty:
                break
        return out

    def close(self, timeout: float = 0.8) -> None:
        """Ask the training process to quit (it saves the run first); kill it if it has not within `timeout` seconds."""
        if self.process.pid is None:
            return
        try:
            self.commands.put(P.Quit())
        except (ValueError, OSError):
            pass
        deadline = time.monotonic() + timeout
        while self.process.is_alive() and time.monotonic() < deadline:
            self.poll()  # read and drop: a trainer waiting for room on the bounded queue then sees the Quit
            self.process.join(0.02)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(0.5)
        for q in (self.commands, self.results):
            q.cancel_join_thread()
            q.close()


class TrainingThread(threading.Thread):
    """A thread the app reads like a Process: it has an exit code, always None."""

    exitcode: int | None = None


class TrainerThread:
    """The same training loop in a thread of this process: for measuring the design choice (bench/app_speed.py).

    Shares the GIL with the UI, which is why the app uses TrainerProcess.
    """

    def __init__(self) -> None:
        self.commands: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue(pump.OUT_QUEUE_SIZE)
        self.process = TrainingThread(target=training_main, args=(self.commands, self.results), daemon=True,
                                      name="mlp-tui-trainer")

    def start(self) -> None:
        self.process.start()

    send = TrainerProcess.send
    poll = TrainerProcess.poll

    def close(self, timeout: float = 0.8) -> None:
        self.commands.put(P.Quit())
        self.process.join(timeout)

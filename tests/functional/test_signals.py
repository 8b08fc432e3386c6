"""Signals: SIGTERM and SIGHUP end the app and `mlp-tui train` like q / Ctrl+C, with the run saved.

The app runs in a real pseudo-terminal (pty.fork), so Textual draws and restores a terminal as it would
for a user; SIGHUP goes to the whole process group and the terminal closes, as when tmux kills a session
or an SSH connection drops.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SMALL_WORDS, TRAINS_ON, write_words
from helpers import COMMAND

from core.runs.folder import read_info, read_losses
from core.runs.lock import holder

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs a pty")


class PtyApp:
    """mlp-tui in a pseudo-terminal of 100x30, its output collected by a thread."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.output = bytearray()
        pid, fd = pty.fork()
        if pid == 0:  # the child: a session leader with the pty as its controlling terminal
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.status: int | None = None

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def wait(self, timeout: float) -> int | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                return status
            time.sleep(0.02)
        return None

    def kill(self) -> None:
        if self.status is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        self.wait(5)


def _trained_run(runs: Path, timeout: float = 90) -> Path:
    """The run folder once it has a checkpoint-worth of steps (the app trains as soon as it opens)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for d in runs.glob("*"):
            try:
                if read_info(d)["step"] > 0 and len(read_losses(d)) > 2000:
                    return d
            except Exception:
                pass
        time.sleep(0.2)
    raise AssertionError("the app did not start training")


def app_argv(words: Path) -> list[str]:
    """The app on `words`, its run still training whenever the test signals it (conftest's TRAINS_ON: a 200K-step
    run of this small model can end within the test's seconds on an idle machine, and it saves as done)."""
    return [*COMMAND, "--data", str(words), "--steps", str(TRAINS_ON)]


@pytest.fixture
def training_app(tmp_path: Path) -> Iterator[tuple[PtyApp, Path, dict[str, str]]]:
    """The app in a pty, training the small words, once its run has a checkpoint-worth of steps: (the app, its
    run folder, its environment). Killed at the end, whatever the test did to it."""
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    runs = tmp_path / "runs"
    env = {**os.environ, "MLP_TUI_RUNS_DIR": str(runs), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    app = PtyApp(app_argv(words), env)
    try:
        yield app, _trained_run(runs), env
    finally:
        app.kill()


def _wait_released(run: Path, seconds: float = 5) -> None:
    """Wait until no process holds the run's lock (or the time is up: the caller asserts)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and holder(run) is not None:
        time.sleep(0.05)


def _runs_line(run: Path, env: dict[str, str]) -> str:
    """The run's line in `mlp-tui runs`."""
    out = subprocess.run([*COMMAND, "runs"], env=env, capture_output=True, text=True, timeout=60)
    return next(x for x in out.stdout.splitlines() if run.name in x)


def _assert_saved_and_released_status(run: Path, status: str) -> dict:
    """The run ended with `status`, its losses up to its step (one timeline), and nobody trains it any more."""
    info = read_info(run)
    assert info["status"] == status, info["status"]
    assert len(read_losses(run)) == info["step"] > 0  # the history and the checkpoint tell one timeline
    assert holder(run) is None  # nobody trains it any more
    return info


def _assert_saved_and_released(run: Path) -> dict:
    """An app's run stopped by a signal: saved as "stopped", its checkpoint at its last step."""
    info = _assert_saved_and_released_status(run, "stopped")
    from core.runs.checkpoint import load_checkpoint

    assert load_checkpoint(run / "model.pt").step == info["step"]
    return info


@pytest.mark.slow
def test_sigterm_saves_the_run_and_restores_the_terminal(training_app):
    app, run, _ = training_app
    time.sleep(0.5)
    mark = len(app.output)
    t0 = time.monotonic()
    os.kill(app.pid, signal.SIGTERM)
    status = app.wait(10)
    took = time.monotonic() - t0
    assert status is not None, "the app did not quit on SIGTERM"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert took < 3.0, took  # q's shutdown: the training process saves within ~0.1 s, killed after 0.8 s
    app.reader.join(2)
    after = bytes(app.output[mark:])
    assert b"\x1b[?1049l" in after  # left the alternate screen
    assert b"\x1b[?25h" in after  # cursor shown again
    assert b"\x1b[?1000l" in after or b"\x1b[?1003l" in after  # mouse tracking off
    _assert_saved_and_released(run)


@pytest.mark.slow
def test_sighup_to_the_process_group_saves_the_run(training_app):
    """What `tmux kill-session` and an SSH drop do: SIGHUP to everyone in the terminal, and the terminal goes."""
    app, run, env = training_app
    os.killpg(app.pid, signal.SIGHUP)
    os.close(app.fd)
    assert app.wait(10) is not None, "the app did not end on SIGHUP"
    _wait_released(run)  # the training process saves on its own SIGHUP, beside the app
    _assert_saved_and_released(run)
    line = _runs_line(run, env)
    assert line.rstrip().endswith("stopped"), line


@pytest.mark.slow
def test_a_killed_app_leaves_no_live_run(training_app):
    """kill -9 of everything: no last save, but the kernel drops the lock, so the run is not shown as training."""
    app, run, env = training_app
    assert holder(run) is not None  # live while it trains
    os.killpg(app.pid, signal.SIGKILL)
    app.wait(10)
    _wait_released(run)
    assert holder(run) is None
    line = _runs_line(run, env)
    # killed before or after its first checkpoint (saved every 5 s): "interrupted", with the reason if before
    assert re.search(r"interrupted( before its first checkpoint)?$", line.rstrip()) and "running" not in line, line


def _training(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen, Path]:
    """`mlp-tui train` of the small words (and flags) into tmp_path/run, once it has 2000 steps of losses on disk:
    a run well under way for a signal to stop."""
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    p = subprocess.Popen([*COMMAND, "train", "--data", str(words), "--steps", "100000000", *flags, "--out", str(out),
                          "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 90
        while time.monotonic() < end and len(read_losses(out)) < 2000:
            time.sleep(0.1)
    except BaseException:
        p.kill()
        raise
    return p, out


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_train_saves_on_a_stop_signal(tmp_path, sig):
    p, out = _training(tmp_path)
    try:
        t0 = time.monotonic()
        p.send_signal(getattr(signal, sig))
        _, err = p.communicate(timeout=30)
        assert time.monotonic() - t0 < 5
    finally:
        p.kill()
    assert p.returncode == 128 + getattr(signal, sig), err
    assert "Traceback" not in err
    info = _assert_saved_and_released_status(out, "interrupted")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["steps"] == info["step"]


@pytest.mark.slow
def test_ctrl_c_again_while_saving_still_saves(tmp_path):
    """A second and third Ctrl+C while the run is being wrapped up do not cut the save short."""
    p, out = _training(tmp_path, "--n-hidden", "400")
    try:
        for _ in range(3):
            p.send_signal(signal.SIGINT)
            time.sleep(0.05)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130 and "Traceback" not in err, err
    info = _assert_saved_and_released_status(out, "interrupted")
    assert (out / "metrics.json").exists() and info["step"] >= 2000


def _stopped(app: PtyApp, timeout: float) -> bool:
    """True once the app's process is stopped (job control), as a shell's `jobs` would show it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pid, status = os.waitpid(app.pid, os.WNOHANG | os.WUNTRACED)
        if pid and os.WIFSTOPPED(status):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("to_group", [False, True], ids=["kill-pid", "kill-group"])
def test_a_suspended_app_comes_back_whole(training_app, to_group):
    """SIGTSTP then SIGCONT (a shell's job control: the whole group, or `kill` of the app alone): the terminal
    is blank when the app comes back, so every pane is drawn again, not only those that changed (the controls
    stayed empty)."""
    app, run, _ = training_app
    send = os.killpg if to_group else os.kill
    time.sleep(1.0)  # the controls are drawn and will not change by themselves
    send(app.pid, signal.SIGTSTP)
    assert _stopped(app, 10), "the app did not stop on SIGTSTP"
    time.sleep(0.3)
    mark = len(app.output)
    send(app.pid, signal.SIGCONT)
    end = time.monotonic() + 10
    while time.monotonic() < end and b"learn rate" not in bytes(app.output[mark:]):
        time.sleep(0.1)
    after = bytes(app.output[mark:])
    assert b"\x1b[?1049h" in after  # back on the alternate screen
    for label in (b"learn rate", b"beta1", b"Controls", b"pause/resume"):  # the controls and the footer
        assert label in after, label
    os.kill(app.pid, signal.SIGTERM)
    assert app.wait(10) is not None
    _assert_saved_and_released(run)


def _fifo_in_numbas_cache(tmp_path: Path) -> dict[str, str]:
    """An environment whose numba cache folder (NUMBA_CACHE_DIR) holds a FIFO where the compiled step's index
    goes: numba's open() of it blocks until a writer comes, which none does."""
    pytest.importorskip("numba")
    from numba.core.caching import UserProvidedCacheLocator

    import core.kernels.jitsteps as jitsteps

    folder = tmp_path / "numba-cache" / UserProvidedCacheLocator.get_suitable_cache_subpath(jitsteps.__file__)
    folder.mkdir(parents=True)
    for step in (jitsteps.steps, jitsteps.general_steps):
        os.mkfifo(folder / step._cache._cache_file._index_name)
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"), "TMPDIR": str(tmp_path / "tmp")}
    env.pop("MLP_TUI_KERNEL", None)
    return env


@pytest.mark.slow
def test_train_is_not_held_by_a_fifo_in_numbas_cache(tmp_path):
    """The FIFO is seen before numba opens it, and the compiled step is cached in a private folder instead."""
    env = _fifo_in_numbas_cache(tmp_path)
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    p = subprocess.Popen([*COMMAND, "train", "--data", str(words), "--steps", "300", "--out", str(tmp_path / "run"),
                          "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("train hung on the FIFO in numba's cache folder") from None
    assert p.returncode == 0, err
    assert read_info(tmp_path / "run")["step"] == 300
    assert any((tmp_path / "tmp").glob("mlp-tui-numba-*/**/*.nbi"))  # cached where it could be
    assert all(f.is_fifo() for f in (tmp_path / "numba-cache").glob("*/*.nbi"))  # the FIFOs left as they were


def _blocked_in_open(pid: int, timeout: float) -> bool:
    """True once the process waits in open() of a FIFO for a writer (Linux's name for that wait)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if Path(f"/proc/{pid}/wchan").read_text() in ("wait_for_partner", "fifo_open"):
                return True
        except OSError:
            pytest.skip("no /proc/PID/wchan here")
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_a_train_whose_main_thread_is_blocked(tmp_path, sig):
    """Whatever blocks the main thread (here the FIFO, with the cache check switched off), a stop signal ends
    `train` within the grace: one line on stderr, no traceback, the usual exit status."""
    from core.signals import BLOCKED_GRACE, exit_status

    env = _fifo_in_numbas_cache(tmp_path)
    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    unguarded = ("import sys, core.kernels.jit as jit; jit.guard_cache = lambda d: ''; from tui.cli import main; "
                 "sys.exit(main())")
    p = subprocess.Popen([sys.executable, "-c", unguarded, "train", "--data", str(words), "--steps", "300",
                          "--out", str(tmp_path / "run"), "--quiet"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert _blocked_in_open(p.pid, 90), "train did not reach numba's cache"
        t0 = time.monotonic()
        p.send_signal(getattr(signal, sig))
        try:
            _, err = p.communicate(timeout=BLOCKED_GRACE + 10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{sig} did not end a blocked train") from None
        took = time.monotonic() - t0
    finally:
        p.kill()
    assert p.returncode == exit_status(sig), err
    assert BLOCKED_GRACE - 0.5 < took < BLOCKED_GRACE + 5, took
    assert "Traceback" not in err and f"stopped on {sig} without a last save" in err, err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_time_stopped_is_not_counted_as_blocked(tmp_path):
    """SIGTERM, then SIGSTOP before the loop has read it, then SIGCONT after longer than the grace: the train
    was stopped, not blocked, so it saves as usual instead of ending without its last save."""
    from core.signals import BLOCKED_GRACE

    p, out = _training(tmp_path)
    try:
        os.kill(p.pid, signal.SIGTERM)
        time.sleep(0.01)  # the handler has run; the loop reads the signal after its chunk (0.1 s)
        os.kill(p.pid, signal.SIGSTOP)
        time.sleep(BLOCKED_GRACE + 2)
        os.kill(p.pid, signal.SIGCONT)
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 143 and "without a last save" not in err, err
    _assert_saved_and_released_status(out, "interrupted")

"""A sweep on a full disk, and a sweep killed outright then resumed at once: one line that says what happened,
trials marked as what they are, and a resume that runs the number asked for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

from core.runs.folder import read_info
from core.runs.listing import summarize
from core.sweeps.study import load_study, trial_state
from core.sweeps.summary import detail

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())"]


def sweep_argv(words: Path, runs: Path, *extra: str) -> list[str]:
    return ["sweep", "--data", str(words), "--runs-dir", str(runs), "--n-hidden", "64", "--space", "lr",
            "--seed", "1", *extra]


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs (root only), nearly filled."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.system(f"mount -t tmpfs -o size=2m tmpfs {mnt} 2>/dev/null") != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield mnt
    os.system(f"umount -l {mnt}")


@pytest.mark.slow
def test_a_full_disk_stops_the_sweep_in_one_line_with_its_trials_marked(small_disk, words_file):
    runs = small_disk / "runs"
    runs.mkdir()
    (small_disk / "filler").write_bytes(bytes(1850 * 1024))  # about 200 KB left: the first trials fill it
    p = subprocess.run([*COMMAND, *sweep_argv(words_file, runs, "--study", "full", "--trials", "4", "--workers", "2",
                                              "--trial-steps", "2000")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    err = p.stderr
    assert p.returncode == 1 and "Traceback" not in err and "Should not reach" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err  # the start line, then the summary with why it stopped
    assert "the sweep stopped" in lines[1] and ("No space left on device" in lines[1] or "disk is full" in lines[1])
    counted = lines[1].split(";")[0]
    assert " running" not in counted and " interrupted" in counted  # the dead workers' trials: interrupted
    # sweeps.db is on the full disk: the storage could not be told, and the summary says so
    assert "still held as running by the storage" in lines[1] and "a resume" in lines[1]
    # The readers count them the same while the disk is still full (and they need no write to read).
    show = subprocess.run([*COMMAND, "sweep", "show", "full", "--runs-dir", str(runs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert show.returncode == 0 and show.stderr == "", show.stderr
    assert " running" not in show.stdout.splitlines()[0] and " interrupted" in show.stdout.splitlines()[0]
    assert detail("full", f"sqlite:///{runs / 'sweeps.db'}")["counts"]["running"] == 0  # the app's sweeps view
    (small_disk / "filler").unlink()  # room again: every trial is what the storage says
    study = load_study("full", f"sqlite:///{runs / 'sweeps.db'}")  # (which marks the dead workers' trials)
    trials = study.get_trials()
    assert not [t for t in trials if t.state.name == "RUNNING"]
    for t in trials:
        run = t.user_attrs.get("run")
        if t.state.name == "COMPLETE":
            assert (Path(run) / "model.pt").is_file()
        elif run and not (Path(run) / "model.pt").is_file():
            assert t.state.name == "FAIL", t.user_attrs
            if trial_state(t) == "failed":  # the storage took the worker's word: why
                assert "No space left" in t.user_attrs.get("error", ""), t.user_attrs
                assert read_info(run)["status"] == "unsaved"
            else:  # it did not: interrupted (run again by a resume), and never "running" in the runs list
                assert trial_state(t) == "interrupted" and "is gone" in t.user_attrs["note"], t.user_attrs
                assert summarize(Path(run)).status in ("unsaved", "interrupted")


def _running(url: str, study: str) -> bool:
    try:
        trials = load_study(study, url).get_trials()
    except Exception:  # noqa: BLE001 - the study is not made yet
        return False
    return any(t.state.name == "RUNNING" and "run" in t.user_attrs for t in trials)


@pytest.mark.slow
@pytest.mark.parametrize("victims", ["the whole sweep", "the sweep command only"])
def test_a_resume_right_after_kill_9_runs_the_trials_asked_for(capsys, words_file, tmp_path, victims):
    runs = tmp_path / "runs"
    url = f"sqlite:///{runs / 'sweeps.db'}"
    p = subprocess.Popen([*COMMAND, *sweep_argv(words_file, runs, "--study", "k", "--trials", "3", "--workers", "1",
                                                "--trial-minutes", "0.05")],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    deadline = time.monotonic() + 180  # (spawn and torch's import on a loaded machine)
    while not _running(url, "k") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _running(url, "k"), f"no trial started: {p.poll()} {p.stderr.read() if p.poll() is not None else ''}"
    if victims == "the whole sweep":
        os.killpg(p.pid, signal.SIGKILL)
    else:
        os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    code, _, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "k", "--trials", "3", "--workers", "1",
                                              "--trial-minutes", "0.05"))
    assert code == 0, err
    states = sorted(t.state.name for t in load_study("k", url).get_trials())
    assert states.count("COMPLETE") == 3 and "RUNNING" not in states, states
    assert "3 complete" in err and "1 interrupted" in err and "running" not in err.splitlines()[-1]

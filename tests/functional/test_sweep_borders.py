"""mlp-tui sweep, sweep show, sweep export and runs at their borders: storage URLs of every kind, damaged and
locked storage, runs folders that cannot be used, odd flag values, a resumed study's settings. Each is one line
(exit 2), never a traceback, and nothing is made or overwritten. A full disk and kill -9: test_sweep_kills.py."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from conftest import assert_cli_error, run_cli

from core import settings
from core.sweeps.study import Budget, create_study, load_study


def sweep_argv(words: Path, runs: Path, *extra: str) -> list[str]:
    return ["sweep", "--data", str(words), "--runs-dir", str(runs), "--n-hidden", "8", "--trials", "1",
            "--trial-steps", "20", "--workers", "1", "--space", "lr", *extra]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://",
                                 "sqlite:///file:m?mode=memory&uri=true"])
def test_an_in_memory_store_is_refused_by_every_command(capsys, words_file, tmp_path, url):
    code, _, err = run_cli(capsys, sweep_argv(words_file, tmp_path / "runs", "--study", "mem", "--storage", url))
    assert_cli_error(code, err, "in memory cannot be shared between processes")
    for cmd in ("show", "export"):
        code, _, err = run_cli(capsys, ["sweep", cmd, "mem", "--storage", url])
        assert_cli_error(code, err, "in memory cannot be shared")


def test_a_missing_database_driver_says_what_to_install(capsys, words_file, tmp_path):
    """Issue 20's message: a postgresql:// storage without its driver said only Optuna's 'Please install
    appropriate one'; now which package, in one line, the password hidden, from every command."""
    import importlib.util

    if importlib.util.find_spec("psycopg") or importlib.util.find_spec("psycopg2"):
        pytest.skip("a PostgreSQL driver is installed here")
    url = "postgresql://bob:hunter2@127.0.0.1:1/sweeps"
    for argv in (["sweep", "show", "s", "--storage", url], ["sweep", "export", "s", "--storage", url],
                 sweep_argv(words_file, tmp_path / "runs", "--study", "s", "--storage", url)):
        code, _, err = run_cli(capsys, argv)
        assert_cli_error(code, err, "pip install 'mlp-tui[postgres]'", "bob:***@127.0.0.1")
        assert "hunter2" not in err


def _runs_dirs(tmp_path: Path) -> list[tuple[Path, str]]:
    afile = tmp_path / "afile"
    afile.write_text("x")
    return [(afile, "not a folder"), (afile / "sub", "afile is a file")]


@pytest.mark.parametrize("cmd", ["sweep", "show", "export", "runs"])
def test_a_runs_dir_that_is_a_file_or_under_one_is_one_line(capsys, words_file, tmp_path, cmd):
    for runs, fragment in _runs_dirs(tmp_path):
        argv = {"sweep": sweep_argv(words_file, runs, "--study", "s"), "runs": ["runs", "--runs-dir", str(runs)],
                "show": ["sweep", "show", "s", "--runs-dir", str(runs)],
                "export": ["sweep", "export", "s", "--runs-dir", str(runs)]}[cmd]
        code, _, err = run_cli(capsys, argv)
        assert_cli_error(code, err, str(runs), fragment)
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a read-only folder")
def test_a_read_only_runs_dir_is_one_line(capsys, words_file, tmp_path):
    runs = tmp_path / "ro"
    runs.mkdir()
    runs.chmod(0o555)
    try:
        code, _, err = run_cli(capsys, sweep_argv(words_file, runs, "--study", "s"))
        assert_cli_error(code, err, str(runs), "cannot write there")
    finally:
        runs.chmod(0o755)


def test_a_read_only_mount_is_one_line(capsys, words_file, tmp_path):
    """A read-only disk (a tmpfs mounted ro: root writes nowhere there either)."""
    ro = tmp_path / "mnt"
    ro.mkdir()
    if os.system(f"mount -t tmpfs -o size=1m,ro tmpfs {ro} 2>/dev/null") != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        code, _, err = run_cli(capsys, sweep_argv(words_file, ro, "--study", "s"))
        assert_cli_error(code, err, str(ro), "read-only")
        code, _, err = run_cli(capsys, sweep_argv(words_file, ro / "sub", "--study", "s"))
        assert_cli_error(code, err, str(ro / "sub"), "cannot make the folder")
    finally:
        os.system(f"umount {ro}")


def test_show_and_export_make_nothing_where_there_is_no_sweep(capsys, tmp_path):
    for cmd in ("show", "export"):
        code, _, err = run_cli(capsys, ["sweep", cmd, "s", "--runs-dir", str(tmp_path / "none")])
        assert_cli_error(code, err, "does not exist")
        code, _, err = run_cli(capsys, ["sweep", cmd, "s", "--storage", f"sqlite:///{tmp_path / 'x.db'}"])
        assert_cli_error(code, err, "does not exist")
    assert list(tmp_path.iterdir()) == []


def _study_db(path: Path, trials: int = 60) -> str:
    import optuna

    url = f"sqlite:///{path}"
    study = create_study("d", url, seed=0)
    for i in range(trials):
        t = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1, log=True)})
        t.set_user_attr("values", "x" * 300)
        study.tell(t, 1.0 + i)
    return url


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_sweeps_db_with_damaged_pages_is_one_line(capsys, words_file, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    db = runs / "sweeps.db"
    _study_db(db)
    size = db.stat().st_size
    with open(db, "r+b") as f:  # the header whole, pages further in overwritten
        for off in range(4096 * 3, size, 4096 * 2):
            f.seek(off + 100)
            f.write(bytes(range(256)) * 8)
    for argv in (["sweep", "show", "d", "--runs-dir", str(runs)], ["sweep", "export", "d", "--runs-dir", str(runs)],
                 sweep_argv(words_file, runs, "--study", "d")):
        code, _, err = run_cli(capsys, argv)
        assert_cli_error(code, err, "sweeps.db", "damaged")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_locked_sweeps_db_is_said_at_once(capsys, tmp_path, monkeypatch):
    import core.sweeps.storage as storage

    db = tmp_path / "sweeps.db"
    _study_db(db, trials=2)
    monkeypatch.setattr(storage, "SQLITE_WAIT", 1)  # (60 s in use)
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _, err = run_cli(capsys, ["sweep", "show", "d", "--runs-dir", str(tmp_path)])
    finally:
        holder.rollback()
        holder.close()
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"waiting for {db}: another process holds it locked") and "1 s" in lines[0]
    assert code == 2 and len(lines) == 2 and "locked" in lines[1] and "Traceback" not in err


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # (the trials made by hand below)
def test_a_study_on_a_disk_that_takes_no_writes_is_still_read(capsys, tmp_path):
    """sweeps.db on a disk that became full or read-only, holding a trial whose worker was killed: reading it
    marks nothing, so sweep show, sweep export and the app's view show it (the trial interrupted, never
    running), where they stopped at "read-only" before. Nor does Optuna's "too few trials" warning reach the
    terminal as a file path and a line of its code."""
    import socket
    import warnings

    import optuna

    from core.sweeps.summary import detail

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.system(f"mount -t tmpfs -o size=2m tmpfs {disk} 2>/dev/null") != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        made = tmp_path / "made.db"
        study = create_study("d", f"sqlite:///{made}", seed=0)
        lr = {"lr": optuna.distributions.FloatDistribution(1e-4, 1, log=True)}
        study.tell(study.ask(lr), 2.5)
        t = study.ask(lr)
        t.set_user_attr("worker", {"host": socket.gethostname(), "pid": 2**22 + 12345, "started": "1"})
        (disk / "sweeps.db").write_bytes(made.read_bytes())
        assert os.system(f"mount -o remount,ro {disk}") == 0
        url = f"sqlite:///{disk / 'sweeps.db'}"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning that escapes fails the command
            code, out, err = run_cli(capsys, ["sweep", "show", "d", "--runs-dir", str(disk)])
            assert code == 0 and err == "", err
            first = out.splitlines()[0]
            assert "1 complete" in first and "1 interrupted" in first and "running" not in first
            assert "parameter importances: not yet (The number of trials is too small" in out
            code, out, err = run_cli(capsys, ["sweep", "export", "d", "--runs-dir", str(disk)])
            assert code == 0 and out.splitlines()[2].startswith("1,interrupted,") and "is gone" in out, out + err
            d = detail("d", url)
        assert d["counts"]["interrupted"] == 1 and d["counts"]["running"] == 0 and "too small" in d["importances_note"]
    finally:
        os.system(f"umount -l {disk}")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ctrl_c_while_waiting_for_a_locked_sweeps_db_ends_at_once(tmp_path):
    """The wait for a locked file was SQLite's, one call into C: Ctrl+C took effect only after its 60 s."""
    import signal
    import subprocess
    import time

    from helpers import COMMAND

    db = tmp_path / "sweeps.db"
    _study_db(db, trials=2)
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        p = subprocess.Popen([*COMMAND, "sweep", "show", "d", "--runs-dir", str(tmp_path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        assert p.stderr is not None
        first = p.stderr.readline()  # (at its end if the command ended without a word)
        assert first.startswith(f"waiting for {db}"), first
        time.sleep(6)  # well into the wait (past the imports that follow the note, seconds on a loaded machine)
        p.send_signal(signal.SIGINT)
        start = time.monotonic()
        _, err = p.communicate(timeout=70)
        took = time.monotonic() - start
    finally:
        holder.rollback()
        holder.close()
    assert p.returncode == 130 and took < 5, (p.returncode, took, err)
    assert err.strip() == "interrupted"  # (Ctrl+C: the command's own word, no traceback)


@pytest.mark.parametrize(("flag", "fragment"), [("--study=", "not empty"), ("--study= ", "not empty"),
                                                ("--study=a/b", "no slash"), ("--study=a\x1bb", "control"),
                                                ("--study=a\u2028b", "control"), ("--study=a\u2029b", "control"),
                                                ("--study=..", "no slash"), ("--workers=100000", "from 1 to 256")])
def test_odd_study_names_and_worker_counts_are_refused(capsys, words_file, tmp_path, flag, fragment):
    argv = sweep_argv(words_file, tmp_path / "runs")
    code, _, err = run_cli(capsys, [*argv, "--study", "ok", flag] if "workers" in flag else [*argv, flag])
    assert_cli_error(code, err, fragment)
    assert not (tmp_path / "runs" / "sweeps.db").exists()


def test_a_resumed_study_with_other_data_preset_or_budget_is_one_line(capsys, words_file, tmp_path):
    """The stored settings are checked before any worker starts, and never overwritten."""
    from tui.subcommands import sweep as sweep_command

    runs = tmp_path / "runs"
    url = f"sqlite:///{runs / 'sweeps.db'}"
    runs.mkdir()
    study = create_study("r", url, seed=0)
    values = {**settings.DEFAULTS, "data": str(words_file), "n_hidden": 8}
    base = sweep_command.base_settings(values, {"lr": None})
    sweep_command.join_study(study, None, base, {}, None, Budget(20))
    stored = dict(load_study("r", url).user_attrs)
    other = tmp_path / "other.txt"
    other.write_text(words_file.read_text())
    for extra, fragments in ((["--data", str(other)], ("--data", str(other), str(words_file), "--study r-2")),
                             (["--preset", "tiny"], ("--preset tiny", "made with --preset (none)")),
                             (["--trial-steps", "30"], ("--trial-steps 30", "made with --trial-steps 20"))):
        code, _, err = run_cli(capsys, [*sweep_argv(words_file, runs, "--study", "r"), *extra])
        assert_cli_error(code, err, *fragments)
    after = load_study("r", url).user_attrs
    assert after["base"] == stored["base"] and after["made"] == stored["made"]
    assert json.loads(after["base"])["data"] == str(words_file.resolve())


def test_a_word_list_no_trial_could_load_is_one_line_before_any_worker(capsys, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("anna\nb.b\ncara\n")
    code, _, err = run_cli(capsys, sweep_argv(bad, tmp_path / "runs", "--study", "s"))
    assert_cli_error(code, err, "line 2", "start/end token")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
async def test_the_sweeps_view_hides_passwords(harness):
    from apphelpers import until
    from textual.widgets import Static

    from tui.views.sweeps import SweepsView

    app = harness.app(hidden=32)
    app.storage = "postgresql://bob:p@ss@127.0.0.1:1/db?sslmode=disable&password=hunter2"
    said: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, SweepsView), what="the sweeps view")
        status = app.screen.query_one(".view-status", Static)
        await until(pilot, lambda: said.append(str(status.render())) or "cannot read" in said[-1], timeout=20,
                    what="the storage's error")
    text = " ".join(said)
    assert "127.0.0.1" in text and "p@ss" not in text and "hunter2" not in text and "***" in text

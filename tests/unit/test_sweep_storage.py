"""Pure parts of sweeps: masking passwords in URLs and messages, in-memory stores, trial states, the worker cap,
a resumed study's settings, the space's parsing."""

from __future__ import annotations

import json
import os
import socket
from types import SimpleNamespace

import pytest

from core.errors import ConfigError
from core.sweeps.reap import worker_gone, worker_id
from core.sweeps.storage import cause, hide_password, in_memory, shown, sqlite_file
from core.sweeps.study import Budget, check_resume, parse_space, record_made, trial_state
from core.sweeps.trials import counts, counts_text, trial_note, unrecorded


@pytest.mark.parametrize(("url", "secret"), [
    ("postgresql://bob:s3cr3t@db.example/sweeps", "s3cr3t"),
    ("postgresql://bob:p@ss@word@db.example:5432/sweeps", "p@ss@word"),  # '@' in the password
    ("postgresql://bob@db.example/sweeps?password=hunter2", "hunter2"),  # a parameter
    ("postgresql://bob@db.example/sweeps?sslmode=require&PASSWORD=hunter2&x=1", "hunter2"),
    ("mysql+pymysql://me@corp:pa:ss@host/db", "pa:ss"),  # '@' in the user, ':' in the password
    ("postgresql://bob:a/b?c@host/db", "a/b?c"),  # as SQLAlchemy reads it: up to the last '@'
    ("postgresql://bob:hunter 2@db.example/sweeps", "hunter 2"),  # a space (quoted in the shell)
    ("postgresql://bob@db.example/sweeps?password=\"hun ter\"&x=1", "hun ter"),  # a quoted value
    ("postgresql://bob:pw1@db.example/sweeps?sslpassword=keypass", "keypass"),  # the client key's passphrase
    ("mssql+pyodbc://@host/db?odbc_connect=DRIVER%3D%7BX%7D%3BUID%3Dbob%3BPWD%3Dhunter2%3BA%3D1", "hunter2"),
    ("mssql+pyodbc://@host/db?odbc_connect=DRIVER={X};UID=bob;PWD=hunter2;", "hunter2"),  # ODBC, unencoded
])
def test_hide_password_hides_every_form_of_password(url, secret):
    shown = hide_password(url)
    assert secret not in shown and "***" in shown
    assert "host" in shown or "db.example" in shown  # the rest is still there to read
    said = f"(psycopg.OperationalError) connection to {url} failed; password {secret!r} was refused"
    assert secret not in hide_password(said, url)  # an error that repeats the password on its own


def test_hide_password_leaves_urls_without_one_alone():
    for url in ("sqlite:////tmp/runs/sweeps.db", "journal:/shared/study.log", "postgresql://bob@host/db"):
        assert hide_password(url) == url


def test_in_memory_stores_are_recognised():
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://", "sqlite:///file:x?mode=memory&uri=true",
                "SQLITE://"):
        assert in_memory(url), url
    for url in ("sqlite:///sweeps.db", "sqlite:////abs/sweeps.db", "postgresql://h/db", "journal:x.log"):
        assert not in_memory(url), url
    assert str(sqlite_file("sqlite:////abs/s.db")) == "/abs/s.db" and sqlite_file("sqlite://") is None


def test_cause_names_a_full_disk_and_a_damaged_file_from_the_chain():
    import sqlite3

    def chained(inner: Exception) -> Exception:
        try:
            try:
                raise inner
            except Exception as e:
                raise AssertionError("Should not reach.") from e
        except AssertionError as outer:
            return outer

    assert "disk is full" in cause(chained(sqlite3.OperationalError("database or disk is full")))
    assert "damaged" in cause(chained(sqlite3.DatabaseError("database disk image is malformed")))
    assert cause(ValueError("nothing of the storage")) is None


def test_a_message_repeating_a_password_in_another_form_hides_it():
    """A driver's message may quote the password decoded (%68 is h) or as the URL gave it, spaces and all."""
    assert hide_password("auth failed: 'hunter2'", "postgresql://bob:%68unter2@h/db") == "auth failed: '***'"
    assert "hunter 2" not in hide_password("no: hunter 2", "postgresql://bob:hunter 2@h/db")
    assert shown("sqlite:////tmp/pass/sweeps.db") == "sqlite:////tmp/pass/sweeps.db"  # a folder named pass


def fake(state: str, **attrs) -> SimpleNamespace:
    from optuna.trial import TrialState

    return SimpleNamespace(state=TrialState[state], user_attrs=attrs)


def test_one_trial_state_for_every_listing():
    assert trial_state(fake("FAIL", error="interrupted")) == "interrupted"  # was printed "fail"
    assert trial_state(fake("FAIL")) == "interrupted"
    assert trial_state(fake("FAIL", error="not saved: disk full")) == "failed"
    assert trial_state(fake("FAIL", skipped="power of two")) == "skipped"
    assert trial_state(fake("COMPLETE")) == "complete" and trial_state(fake("RUNNING")) == "running"


def test_a_trial_held_running_by_a_dead_worker_counts_as_interrupted_everywhere():
    """The storage may never be told of the worker's end (sweeps.db on a full disk): every listing still
    counts the trial as what it is, from its recorded worker."""
    dead = {**worker_id(), "pid": 2**22 + 12345}
    gone, alive = fake("RUNNING", worker=dead), fake("RUNNING", worker=worker_id())
    elsewhere = fake("RUNNING", worker={**dead, "host": socket.gethostname() + "-elsewhere"})
    assert trial_state(gone) == "interrupted" and unrecorded(gone)
    assert trial_state(alive) == "running" and not unrecorded(alive)
    assert trial_state(elsewhere) == "running"  # another machine's worker: its heartbeats tell
    assert trial_note(gone) == f"its worker (pid {dead['pid']}) is gone" and trial_note(alive) == ""
    c = counts([gone, alive, elsewhere, fake("COMPLETE")])
    assert (c["interrupted"], c["running"], c["complete"]) == (1, 2, 1)
    assert counts_text(c) == "1 complete, 0 pruned, 0 failed, 0 skipped, 1 interrupted, 2 running"
    assert counts_text(counts([gone])) == "0 complete, 0 pruned, 0 failed, 0 skipped, 1 interrupted"


def test_a_worker_is_known_dead_by_pid_or_by_a_reused_pid():
    me = worker_id()
    assert not worker_gone(me)
    assert worker_gone({**me, "pid": 2**22 + 12345})  # no such process
    if me["started"] is not None:
        assert worker_gone({**me, "started": str(int(me["started"]) + 1)})  # the pid now is another process
    assert not worker_gone({**me, "pid": 2**22 + 12345, "host": socket.gethostname() + "-elsewhere"})
    assert not worker_gone(None) and not worker_gone({"pid": "x"})
    assert me["pid"] == os.getpid()


def test_workers_are_capped_at_what_memory_holds():
    from core.sweeps.workers import WORKER_MB, check_workers

    assert check_workers(2, free_mb=10 * WORKER_MB) == 2
    with pytest.raises(ConfigError, match=r"--workers 64: each worker loads torch .* give at most 10"):
        check_workers(64, free_mb=10 * WORKER_MB)
    assert 1 <= check_workers(None, free_mb=WORKER_MB // 2) <= 1  # the default: never past memory


def test_an_empty_range_in_the_space_is_refused():
    with pytest.raises(ConfigError, match="no range after '='"):
        parse_space("lr=")
    with pytest.raises(ConfigError, match="no range after '='"):
        parse_space("n_hidden= ,lr")


class Study:
    """The parts of an Optuna study that check_resume and record_made use."""

    def __init__(self) -> None:
        self.user_attrs: dict = {}
        self.study_name = "s"

    def set_user_attr(self, k, v) -> None:
        self.user_attrs[k] = v


@pytest.mark.parametrize(("change", "flag", "was", "now"), [
    ({"data": "/x/surnames.txt"}, "--data", "names", "/x/surnames.txt"),
    ({"preset": "tiny"}, "--preset", "(none)", "tiny"),
    ({"steps": 500}, "--trial-steps", "1,000", "500"),
    ({"n_embd": 3}, "--n-embd", "10", "3"),
])
def test_a_resumed_study_refuses_other_settings_and_keeps_its_own(change, flag, was, now):
    study = Study()
    base = {"data": "names", "n_embd": 10, "seed": 1}
    record_made(study, base, None, Budget(1000))
    stored = dict(study.user_attrs)
    new = {**base, **{k: v for k, v in change.items() if k in base}}
    with pytest.raises(ConfigError) as e:
        check_resume(study, new, change.get("preset"), Budget(change.get("steps", 1000)))
    msg = str(e.value)
    assert msg.startswith(f"{flag} {now}: study s was made with {flag} {was}") and "--study s-2" in msg
    record_made(study, new, change.get("preset"), Budget(change.get("steps", 1000)))
    assert study.user_attrs == stored and json.loads(stored["base"]) == base  # never overwritten
    check_resume(study, {**base, "seed": 7}, None, Budget(1000))  # another --seed is another draw: fine


def test_a_resumed_study_tunes_the_same_settings():
    """Another --space was refused as a fixed setting gone missing ("--lr 0.1: ... made with --lr (none)")."""
    study = Study()
    record_made(study, {"data": "names", "n_hidden": 64}, None, Budget(1000))
    study.set_user_attr("space", ["lr 0.0001..1 log"])
    with pytest.raises(ConfigError) as e:
        check_resume(study, {"data": "names", "lr": 0.1}, None, Budget(1000), ["n_hidden"])
    assert str(e.value).startswith("--space n_hidden: study s tunes lr; a resumed study tunes the same settings")
    assert "--study s-2" in str(e.value)
    check_resume(study, {"data": "names", "n_hidden": 64}, None, Budget(1000), ["lr"])  # (another range: fine)

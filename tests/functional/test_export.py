"""`mlp-tui export`: it never writes over a file of the run it reads (by name, link or stdout), replaces a file
only with a whole one, writes to devices and pipes, ends quietly on a closed pipe, and never hangs on a FIFO."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import TRAINED_STEPS, assert_cli_error, run_cli
from helpers import COMMAND, copy_run, fingerprint

from core.link import protocol as P
from core.runs.checkpoint import load_checkpoint


def run_files(run: Path) -> dict[str, tuple[bytes, int] | None]:
    return {f.name: fingerprint(f) for f in run.iterdir()}


@pytest.mark.parametrize("target", ["model.pt", "losses.f32", "run.json", "evals.jsonl", "samples.jsonl", "lock"])
def test_export_never_writes_over_a_file_of_the_run_it_reads(capsys, trained_run, target):
    _, run = trained_run
    before = run_files(run)
    code, out, err = run_cli(capsys, ["export", str(run), "-o", str(run / target)])
    assert_cli_error(code, err, target, "of the run being read", "nothing was written")
    assert run_files(run) == before
    load_checkpoint(run / "model.pt")  # still loads


def test_export_refuses_a_link_to_a_run_file_too(capsys, trained_run, tmp_path):
    _, run = trained_run
    before = run_files(run)
    (tmp_path / "soft.csv").symlink_to(run / "model.pt")
    os.link(run / "losses.f32", tmp_path / "hard.csv")
    for name in ("soft.csv", "hard.csv"):
        code, _, err = run_cli(capsys, ["export", str(run), "-o", str(tmp_path / name)])
        assert_cli_error(code, err, "of the run being read")
    assert run_files(run) == before


def test_export_replaces_a_file_only_when_the_new_one_is_whole(capsys, trained_run, tmp_path, monkeypatch):
    import core.runs.listing

    _, run = trained_run
    old = tmp_path / "losses.csv"
    old.write_text("what the user had\n")

    def half_then_fail(path, out):
        out.write("step,log10_loss\n1,0.5\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.runs.listing, "export_csv", half_then_fail)
    code, _, err = run_cli(capsys, ["export", str(run), "-o", str(old)])
    assert_cli_error(code, err, "No space left on device", "the old file is as it was")
    assert old.read_text() == "what the user had\n"
    assert [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")] == []
    monkeypatch.undo()
    code, _, err = run_cli(capsys, ["export", str(run), "-o", str(old)])
    assert code == 0 and len(old.read_text().splitlines()) == TRAINED_STEPS + 1  # header + one line a step


def test_export_writes_straight_to_a_device_or_pipe(trained_run, tmp_path):
    _, run = trained_run
    r = subprocess.run([*COMMAND, "export", str(run), "-o", "/dev/stdout"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("step,") and len(r.stdout.splitlines()) == TRAINED_STEPS + 1


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly_and_a_full_device_in_one_line(trained_run):
    _, run = trained_run
    cmd = " ".join(f"'{c}'" for c in COMMAND)
    r = subprocess.run(f"{cmd} export '{run}' | head -2", shell=True, capture_output=True, text=True, timeout=120)
    assert r.stdout.count("\n") == 2 and r.stderr == "", r.stderr
    p = subprocess.Popen([*COMMAND, "sample", "--checkpoint", str(run), "-n", "10000000", "--seed", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()  # `| head -1`
    _, err = p.communicate(timeout=60)
    assert first.strip() and err == b"", err
    if Path("/dev/full").exists():
        with open("/dev/full", "w") as full:
            r = subprocess.run([*COMMAND, "export", str(run)], stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=120)
        assert_cli_error(r.returncode, r.stderr, "cannot write the output", "No space left on device")


@pytest.mark.slow
def test_stdout_on_a_disk_that_fills_is_one_line_not_a_short_file(trained_run, tmp_path):
    """/dev/full refuses every write; a disk with a little room left takes the first part of a large write,
    and Python dropped the rest without a word: `sample -n 5000 > file` and `export RUN > file` exited 0
    with the first 4 KB. Each command printing much at once is tried, stdout a file on a nearly full disk."""
    _, run = trained_run
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.system(f"mount -t tmpfs -o size=64k tmpfs {disk} 2>/dev/null") != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        (disk / "filler").write_bytes(bytes(60 * 1024))  # a page or so left
        for argv in (["sample", "--checkpoint", str(run), "-n", "5000", "--seed", "1"], ["export", str(run)]):
            with open(disk / "out.txt", "w") as out:
                r = subprocess.run([*COMMAND, *argv], stdout=out, stderr=subprocess.PIPE, text=True, timeout=120)
            assert_cli_error(r.returncode, r.stderr, "cannot write the output", "No space left on device")
            (disk / "out.txt").unlink()
    finally:
        os.system(f"umount -l {disk}")


def test_export_refuses_a_stdout_that_is_a_file_of_the_run(trained_run, tmp_path):
    _, src = trained_run
    run = copy_run(src, tmp_path / "r")
    before = (run / "losses.f32").read_bytes()
    with open(run / "losses.f32", "a") as f:
        r = subprocess.run([*COMMAND, "export", str(run)], stdout=f, stderr=subprocess.PIPE, text=True, timeout=60)
    assert_cli_error(r.returncode, r.stderr, "stdout is losses.f32 of the run being read")
    assert (run / "losses.f32").read_bytes() == before


def test_a_fifo_for_the_loss_file_does_not_hang_export_or_a_load(capsys, trained_run, tmp_path):
    import queue

    from core.link.pump import Pump

    _, src = trained_run
    run = copy_run(src, tmp_path / "f")
    (run / "losses.f32").unlink()
    os.mkfifo(run / "losses.f32")
    code, _, err = run_cli(capsys, ["export", str(run)])
    assert_cli_error(code, err, "losses.f32 is not a regular file")
    out: queue.Queue = queue.Queue()
    Pump(out).load(str(run))  # returns: refused, not blocked on the FIFO
    assert any(isinstance(m, P.Error) for m in [out.get_nowait() for _ in range(out.qsize())])

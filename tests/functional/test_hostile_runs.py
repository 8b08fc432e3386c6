"""Hostile run folders through the command line: a damaged run.json or history line is listed as damaged, never
a traceback; names that would drive the terminal are printed escaped; a full disk rescues the weights; --out
refuses a folder holding files a run would write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import TRAINED_STEPS, assert_cli_error, assert_one_line, run_cli
from helpers import copy_run, patch_info, train_argv

from core.runs.checkpoint import load_checkpoint
from core.runs.folder import (
    RunError,
    read_info,
)
from core.runs.listing import list_runs

BAD_INFOS = [
    ("step-1e999", lambda r: (r / "run.json").write_text((r / "run.json").read_text().replace(
        f'"step": {TRAINED_STEPS}', '"step": 1e999')), "step is inf"),
    ("step-bool", lambda r: patch_info(r, step=True), "step is True"),
    ("step-huge", lambda r: patch_info(r, step=10**400), "step is"),
    ("step-string", lambda r: patch_info(r, step="200"), "step is '200'"),
    ("loss-text", lambda r: patch_info(r, best_dev_loss="low"), "best_dev_loss is 'low'"),
    ("escape-in-dataset", lambda r: patch_info(r, dataset="\x1b]2;PWNED\x07"), "dataset is"),
    ("status-unknown", lambda r: patch_info(r, status="rm -rf"), "status is"),
    ("hidden-out-of-range", lambda r: patch_info(r, model={"n_hidden": -5}), "model settings"),
    ("not-a-dict", lambda r: (r / "run.json").write_text("[1, 2]"), "of another kind"),
    ("deep-json", lambda r: (r / "run.json").write_text("[" * 100_000 + "]" * 100_000), "not readable JSON"),
    ("fifo", lambda r: ((r / "run.json").unlink(), os.mkfifo(r / "run.json")), "not a regular file"),
    ("folder", lambda r: ((r / "run.json").unlink(), (r / "run.json").mkdir()), "run.json is not a regular file"),
    ("huge", lambda r: (r / "run.json").write_bytes(b" " * (2 << 20)), "more than the 1.0 MiB"),
]


@pytest.mark.parametrize(("make", "fragment"), [b[1:] for b in BAD_INFOS], ids=[b[0] for b in BAD_INFOS])
def test_a_damaged_run_json_is_listed_as_damaged_and_the_others_still_list(capsys, trained_run, tmp_path, make,
                                                                           fragment):

    _, src = trained_run
    root = tmp_path / "runs"
    copy_run(src, root / "good")
    bad = copy_run(src, root / "bad")
    make(bad)
    with pytest.raises(RunError) as e:
        read_info(bad)
    assert_one_line(e, fragment)
    assert "\x1b" not in str(e.value)
    runs = {r.path.name: r for r in list_runs(root)}
    assert runs["good"].step == TRAINED_STEPS and not runs["good"].error
    assert runs["bad"].status == "damaged" and fragment in runs["bad"].error
    code, out, err = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    assert code == 0 and "Traceback" not in err and "\x1b" not in out
    assert "damaged:" in next(x for x in out.splitlines() if x.startswith("bad"))
    assert any(x.startswith("good") and str(TRAINED_STEPS) in x for x in out.splitlines())


def test_damaged_history_lines_are_skipped_not_fatal(capsys, trained_run, tmp_path):
    from core.runs.folder import read_evals, read_samples

    _, src = trained_run
    run = copy_run(src, tmp_path / "r")
    with open(run / "evals.jsonl", "a") as f:
        f.write('{"step": 1e999, "dev": 1}\n{"step": 5, "dev": "x"}\n{"step": 6, "dev": 1e999}\n[1]\n')
    with open(run / "samples.jsonl", "a") as f:
        f.write('{"step": 7, "names": ["ok", "\\u001b[31mred"]}\n{"step": 8, "names": "abc"}\n')
    assert all(isinstance(e["step"], int) for e in read_evals(run))
    assert not any(e["step"] in (5, 6) for e in read_evals(run))
    assert not any(s["step"] in (7, 8) for s in read_samples(run))
    (run / "losses.f32").write_bytes(array_of([1e38, -1e38, float("nan"), 0.5]))
    code, out, err = run_cli(capsys, ["export", str(run)])  # 10 ** 1e38 raised OverflowError
    assert code == 0, err
    assert out.splitlines()[1].split(",")[2] == "inf"


def array_of(values: list[float]) -> bytes:
    import array

    return array.array("f", values).tobytes()


def test_nothing_printed_from_a_file_can_drive_the_terminal(capsys, trained_run, tmp_path):
    """Run folder names and paths are printed escaped (the data loader already refuses control characters)."""
    from core.runs.files import safe_text

    _, src = trained_run
    root = tmp_path / "runs"
    copy_run(src, root / "evil\x1b]2;PWNED\x07")
    code, out, err = run_cli(capsys, ["runs", "--runs-dir", str(root)])
    assert code == 0 and "\x1b" not in out + err and "\x07" not in out + err
    assert "evil\\x1b]2;PWNED\\x07" in out
    assert safe_text("a\u202eb") == "a\\u202eb"  # a right-to-left override would reorder the line


def test_train_on_a_full_disk_trains_on_and_rescues_the_weights(capsys, tmp_path, monkeypatch, words_file):
    """ENOSPC on the run folder from the first losses written: the run trains to its end, the weights go to the
    temp folder with a message that says where, and run.json says "unsaved" and where they went."""
    import errno

    import core.runs.checkpoint
    import core.runs.folder
    import core.runs.writer

    run = tmp_path / "run"
    real_write, real_save = core.runs.writer.RunWriter._write, core.runs.checkpoint.save_checkpoint

    def full_write(self, f, data):
        raise core.runs.folder.RunError(f"{self.path}: cannot save the run (No space left on device)")

    def full_save(trainer, path, **kw):
        if Path(path).parent == run:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(trainer, path, **kw)

    monkeypatch.setattr(core.runs.writer.RunWriter, "_write", full_write)
    monkeypatch.setattr(core.runs.checkpoint, "save_checkpoint", full_save)
    monkeypatch.setattr(tempfile_module(), "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    code, out, err = run_cli(capsys, train_argv(words_file, run, "--steps", "500", "--hidden", "16"))
    assert code == 1, err
    assert "Traceback" not in err
    rescued = list((tmp_path / "tmp").glob("mlp-tui-run-step500.pt"))
    assert len(rescued) == 1
    assert f"the weights were saved to {rescued[0]} instead" in err
    assert load_checkpoint(rescued[0]).step == 500
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "unsaved" and info["rescued_to"] == str(rescued[0]) and info["step"] == 500
    del real_write


def tempfile_module():
    import tempfile

    return tempfile


def test_train_out_refuses_a_folder_with_files_a_run_would_write(capsys, tmp_path, words_file):
    out = tmp_path / "u"
    out.mkdir()
    (out / "metrics.json").write_text("USER\n")
    code, _, err = run_cli(capsys, train_argv(words_file, out, "--steps", "10"))
    assert_cli_error(code, err, "already holds files a run would write (metrics.json)")
    assert (out / "metrics.json").read_text() == "USER\n"

"""A run continued on a file that changed since it began, with the same vocabulary (so the checkpoint's check of
the vocabulary passes), is refused in one line naming the file, by `train --resume` and the app's continue alike;
a run from before the fingerprint (run.json without it) goes on unchecked."""

from __future__ import annotations

import json
import queue
from pathlib import Path

import pytest
from conftest import assert_cli_error, run_cli

from core.link import protocol as P
from core.link.pump import Pump

LINES = ["the cat sat on the mat .", "a dog sat on the cat !", "the cat is on a mat .", "a dog is a dog ."]


@pytest.fixture
def word_run(capsys, tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "story.txt"
    data.write_text("\n".join(f"{LINES[i % 4]} {i % 7}" for i in range(60)) + "\n",
                    encoding="utf-8")
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, ["train", "--data", str(data), "--format", "text", "--tokens", "words",
                                    "--min-count", "1", "--n-embd", "4", "--n-hidden", "8", "--steps", "50",
                                    "--out", str(run), "--quiet"])
    assert code == 0, err
    return data, run


def shuffle_train_lines(data: Path) -> None:
    """The training split's lines in reverse: the same words as often in each split, so the same vocabulary."""
    lines = data.read_text(encoding="utf-8").splitlines()
    n = int(0.8 * len(lines))
    data.write_text("\n".join(lines[:n][::-1] + lines[n:]) + "\n", encoding="utf-8")


def test_a_changed_file_with_the_same_vocabulary_is_refused_naming_it(capsys, word_run):
    data, run = word_run
    info = json.loads((run / "run.json").read_text())
    assert info["fingerprint"]["lines"] == 60 and len(info["fingerprint"]["sha256"]) == 64
    shuffle_train_lines(data)
    code, _, err = run_cli(capsys, ["train", "--resume", str(run), "--steps", "80", "--quiet"])
    assert_cli_error(code, err, str(data), "has changed since the run began", "60 lines, but not the same text")
    assert json.loads((run / "run.json").read_text())["step"] == 50  # nothing of the run was touched

    pump = Pump(queue.Queue())
    pump.load(str(run))  # the app's continue (the runs view) takes the same path
    events = list(pump.out.queue)
    errors = [e.message for e in events if isinstance(e, P.Error)]
    assert len(errors) == 1 and str(data) in errors[0] and "has changed since the run began" in errors[0]
    assert "\n" not in errors[0] and pump.session is None


def test_a_run_without_a_fingerprint_goes_on_unchecked(capsys, word_run):
    data, run = word_run
    info = json.loads((run / "run.json").read_text())
    del info["fingerprint"]  # as runs made before it
    (run / "run.json").write_text(json.dumps(info))
    shuffle_train_lines(data)
    code, _, err = run_cli(capsys, ["train", "--resume", str(run), "--steps", "80", "--quiet"])
    assert code == 0, err
    assert json.loads((run / "run.json").read_text())["step"] == 80

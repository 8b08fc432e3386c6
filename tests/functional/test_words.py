"""Words on running text through the command line: a tiny text trained as words, its measures in
metrics.json and eval, its run folder; an old run evaluated as lines of characters; the refusals in one line. Every
view of the app on a word model: tests/functional/test_word_views.py."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from conftest import assert_cli_error, run_cli

from core.runs.checkpoint import load_checkpoint
from core.runs.folder import read_info
from core.tokens import normalise

OLD_RUN = Path(__file__).parents[1] / "fixtures" / "old-run-chars"
LINES = ["The cat sat on the mat.", "The dog sat on the cat!", "A cat, a dog: the end.", "Is the cat on the mat?"]


def text_file(tmp_path: Path, repeat: int = 10) -> Path:
    path = tmp_path / "story.txt"
    path.write_text("\n".join(LINES * repeat) + "\n", encoding="utf-8")
    return path


def test_a_word_model_of_running_text_is_trained_measured_and_evaluated(capsys, tmp_path):
    out = tmp_path / "run"
    data = text_file(tmp_path)
    code, _, err = run_cli(capsys, ["train", "--data", str(data), "--format", "text", "--tokens", "words",
                                    "--min-count", "2", "--n-hidden", "16", "--steps", "200", "--out", str(out),
                                    "--quiet"])
    assert code == 0, err
    assert "running text, 40 lines" in err and "perplexity train" in err and "a lower bound: <unk>" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == {"format": "text", "tokens": "words", "min_count": 2, "lower": False}
    dev = metrics["measures"]["dev"]
    assert dev["perplexity"] == pytest.approx(math.exp(metrics["dev_loss"]))
    chars = sum(len(normalise(line)) + 1 for line in LINES)  # the dev split is the 4 lines once
    tokens = sum(len(normalise(line).split(" ")) + 1 for line in LINES)
    assert dev["bpc"] == pytest.approx(metrics["dev_loss"] * tokens / chars / math.log(2))
    assert dev["unk_rate"] == 0.0
    assert read_info(out)["data"] == metrics["data"]
    assert load_checkpoint(out / "model.pt").vocab.tokens == "words"
    code, stdout, err = run_cli(capsys, ["eval", "--checkpoint", str(out)])
    assert code == 0, err
    report = json.loads(stdout)
    assert report["dev_loss"] == pytest.approx(metrics["dev_loss"]) and report["measures"]["dev"] == pytest.approx(dev)
    code, stdout, _ = run_cli(capsys, ["runs", "--runs-dir", str(tmp_path)])
    assert code == 0 and "· text · words ≥2" in stdout  # the runs list names the data settings
    code, stdout, _ = run_cli(capsys, ["recipe", str(out)])
    assert code == 0 and 'format = "text"' in stdout and 'tokens = "words"' in stdout and "min_count = 2" in stdout


def test_an_old_run_is_evaluated_as_lines_of_characters(capsys, tmp_path):
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    code, stdout, err = run_cli(capsys, ["eval", "--checkpoint", str(run)])
    assert code == 0, err
    report = json.loads(stdout)
    assert report["data"] == {"format": "lines", "tokens": "chars", "min_count": 4, "lower": False}
    assert report["dev_loss"] == pytest.approx(3.38467119803389, abs=1e-6)  # as metrics.json said when it was made
    assert "bpc" not in report["measures"]["dev"]  # bits per character are for running text


@pytest.mark.parametrize(("flags", "fragments"), [
    (["--data", "names", "--tokens", "words"], ["names.txt", "has no spaces", "--tokens chars"]),
    (["--format", "text", "--tokens", "words", "--min-count", "1000"], ["--min-count 1,000 leaves only <unk>"]),
    (["--format", "text", "--dedupe"], ["--dedupe", "--format text"]),
    (["--format", "prose"], ["--format", "prose"]),
])
def test_refusals_are_one_line(capsys, tmp_path, flags, fragments):
    data = ["--data", str(text_file(tmp_path))] if "--data" not in flags else []
    code, _, err = run_cli(capsys, ["train", *data, *flags, "--steps", "5", "--out", str(tmp_path / "r"), "--quiet"])
    assert_cli_error(code, err, *fragments)
    assert not (tmp_path / "r").exists()


def test_train_suggests_text_for_a_word_list_that_looks_like_it(capsys, tmp_path):
    path = tmp_path / "prose.txt"
    path.write_text("it was the best of times and the worst of times for all of them\n" * 20, encoding="utf-8")
    code, _, err = run_cli(capsys, ["train", "--data", str(path), "--steps", "5", "--out", str(tmp_path / "r"),
                                    "--quiet"])
    assert code == 0, err
    hints = [line for line in err.splitlines() if "--format text" in line]
    assert len(hints) == 1 and "looks like running text" in hints[0]


def test_a_word_model_with_the_lectures_init_gets_a_note_and_kaiming_none(capsys, tmp_path):
    data = text_file(tmp_path)
    flags = ["train", "--data", str(data), "--format", "text", "--tokens", "words", "--min-count", "2",
             "--n-hidden", "16", "--steps", "5", "--quiet"]
    code, _, err = run_cli(capsys, [*flags, "--out", str(tmp_path / "a")])
    assert code == 0, err
    notes = [line for line in err.splitlines() if "init lecture" in line]
    assert len(notes) == 1 and "near loss 26" in notes[0] and "--init kaiming" in notes[0]
    code, _, err = run_cli(capsys, [*flags, "--init", "kaiming", "--out", str(tmp_path / "b")])
    assert code == 0 and "init lecture" not in err
    code, _, err = run_cli(capsys, ["train", "--data", str(data), "--format", "text", "--steps", "5", "--quiet",
                                    "--out", str(tmp_path / "c")])  # characters: the lecture's own lesson, no note
    assert code == 0 and "init lecture" not in err


def test_bad_input_on_a_word_model_is_one_line_each(capsys, tmp_path):
    """A word the vocabulary lacks (neighbours, one word or in an analogy) and an empty prompt, on a word model."""
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, ["train", "--data", str(text_file(tmp_path)), "--format", "text", "--tokens",
                                    "words", "--min-count", "2", "--n-hidden", "16", "--steps", "20", "--out",
                                    str(out), "--quiet"])
    assert code == 0, err
    cases = [(["neighbours", "--checkpoint", str(out), "zebra"],
              ["'zebra' is not in the model's vocabulary", "tokens: '</s>'"]),
             (["neighbours", "--checkpoint", str(out), "--analogy", "cat", "zebra", "dog"], ["'zebra'"]),
             (["sample", "--checkpoint", str(out), "--prefix", " "], ["--prefix", "the prompt is empty"])]
    for argv, fragments in cases:
        code, stdout, err = run_cli(capsys, argv)
        assert_cli_error(code, err, *fragments)
        assert stdout == ""

"""`mlp-tui tokens`: a line split into a model's tokens with their ids, from a data file (with what the tokenizer
makes of it) and from a checkpoint, and its one-line errors."""

from __future__ import annotations

from conftest import assert_cli_error, run_cli

LINES = ["the cat sat on the mat .", "the dog sat on the log .", "a cat ran to the dog ."] * 10


def text_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def test_tokens_prints_the_split_of_a_given_line_with_ids(capsys, tmp_path):
    from core.data import Dataset
    from core.tokens import TextOptions

    path = text_file(tmp_path)
    code, out, err = run_cli(capsys, ["tokens", "--data", str(path), "--format", "text", "--tokens", "words",
                                      "--min-count", "2", "The  cat sat,zebra"])
    assert code == 0, err
    stoi = Dataset.load(path, 1, options=TextOptions("text", "words", 2)).vocab.stoi
    lines = out.splitlines()
    assert lines[0].startswith("words (words and punctuation) of text: ")
    assert "line: The cat sat , zebra" in lines
    assert "5 tokens, 19 characters; * 3 not in the vocabulary:" in lines
    i = lines.index("5 tokens, 19 characters; * 3 not in the vocabulary:")
    assert lines[i + 1].split() == ["The*", "cat", "sat", ",*", "zebra*"]
    assert lines[i + 2].split() == [str(stoi[t]) for t in ("<unk>", "cat", "sat", "<unk>", "<unk>")]
    assert any(line.startswith("training split: 1.000 tokens per word") for line in lines)


def test_tokens_of_characters_and_of_a_checkpoint(capsys, tmp_path, trained_run):
    path = text_file(tmp_path)
    code, out, _ = run_cli(capsys, ["tokens", "--data", str(path), "--format", "text", "--tokens", "chars", "a cat"])
    assert code == 0
    lines = out.splitlines()
    i = lines.index("5 tokens, 5 characters:")
    assert lines[i + 1].split() == ["a", "␣", "c", "a", "t"]  # the space shown
    assert "every token is one character" in lines
    _, run = trained_run  # a model of names: its vocabulary is . and the letters of the names
    code, out, err = run_cli(capsys, ["tokens", "--checkpoint", str(run), "emma"])
    assert code == 0, err
    from core.runs.checkpoint import load_checkpoint

    stoi = load_checkpoint(run / "model.pt").vocab.stoi
    lines = out.splitlines()
    i = lines.index("4 tokens, 4 characters:")
    assert lines[i + 1].split() == list("emma") and lines[i + 2].split() == [str(stoi[c]) for c in "emma"]
    assert not any(line.startswith("training split") for line in lines)  # a checkpoint holds no data


def test_tokens_errors_are_one_line(capsys, tmp_path, trained_run):
    _, run = trained_run
    code, _, err = run_cli(capsys, ["tokens", "--checkpoint", str(run)])
    assert_cli_error(code, err, "give the TEXT to split")
    code, _, err = run_cli(capsys, ["tokens", "--checkpoint", str(run), "--tokens", "words", "x"])
    assert_cli_error(code, err, "--tokens is for --data")
    code, _, err = run_cli(capsys, ["tokens", "--data", str(tmp_path / "none.txt"), "x"])
    assert_cli_error(code, err, "none.txt", "no such file")
    code, _, err = run_cli(capsys, ["tokens", "x"])
    assert_cli_error(code, err, "--checkpoint", "--data")
    code, _, err = run_cli(capsys, ["tokens", "--data", str(text_file(tmp_path)), "--format", "text", "  "])
    assert_cli_error(code, err, "empty")

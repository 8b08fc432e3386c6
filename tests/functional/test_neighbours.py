"""`mlp-tui neighbours`: a saved model's nearest tokens and analogies on the command line, and its one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_cli_error, run_cli


def rows(out: str) -> list[tuple[str, float]]:
    """(token, similarity) of each listed line, after the heading."""
    head, *lines = out.splitlines()
    assert head.startswith("nearest to ") and "cosine similarity" in head, head
    return [(line.split()[1], float(line.split()[2])) for line in lines]


def test_nearest_characters_of_a_character_model(capsys, trained_run):
    """The session's run is a character model: its tokens are characters; the listing matches the math on C."""
    import torch

    from core.probes.neighbours import nearest

    _, run = trained_run
    code, out, err = run_cli(capsys, ["neighbours", "--checkpoint", str(run), "a", "-k", "5"])
    assert code == 0 and err == ""
    got = rows(out)
    assert len(got) == 5 and "'a'" not in [t for t, _ in got]
    sims = [s for _, s in got]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1 for s in sims)
    ckpt = torch.load(run / "model.pt", weights_only=True)
    C = ckpt["model"]["C"].double().numpy()
    want = [(repr(ckpt["vocab"][i]), round(s, 3)) for i, s in nearest(C, ckpt["vocab"].index("a"), 5)]
    assert [(t, round(s, 3)) for t, s in got] == want
    code, out, _ = run_cli(capsys, ["neighbours", "--checkpoint", str(run / "model.pt"), "e"])
    assert code == 0 and len(rows(out)) == 10  # the default k, and a model.pt given directly


def test_an_analogy_lists_neither_of_its_three_tokens(capsys, trained_run):
    _, run = trained_run
    code, out, _ = run_cli(capsys, ["neighbours", "--checkpoint", str(run), "--analogy", "a", "e", "o", "-k", "30"])
    assert code == 0
    assert "nearest to 'a' - 'e' + 'o'" in out.splitlines()[0]
    got = [t for t, _ in rows(out)]
    assert len(got) == 25 - 3 and not {"'a'", "'e'", "'o'"} & set(got)
    assert np.all(np.diff([s for _, s in rows(out)]) <= 0)


@pytest.mark.parametrize("argv, fragments", [
    (["zz"], ("'zz' is not in the model's vocabulary", "25 tokens: '.' 'a' 'b'")),  # SMALL_WORDS' characters
    (["--analogy", "a", "b", "Q"], ("'Q' is not in the model's vocabulary",)),
    ([], ("give one WORD, or --analogy A B C",)),
    (["a", "--analogy", "a", "b", "c"], ("give one WORD, or --analogy A B C",)),
    (["a", "-k", "0"], ("-k", "from 1 to 1000")),
    (["--analogy", "a", "b"], ("--analogy", "expected 3 arguments")),
])
def test_bad_requests_are_one_line(capsys, trained_run, argv, fragments):
    _, run = trained_run
    code, out, err = run_cli(capsys, ["neighbours", "--checkpoint", str(run), *argv])
    assert_cli_error(code, err, *fragments)
    assert out == ""


def test_a_missing_or_damaged_checkpoint_is_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, ["neighbours", "--checkpoint", str(tmp_path / "nothing"), "a"])
    assert_cli_error(code, err, "nothing")
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    code, _, err = run_cli(capsys, ["neighbours", "--checkpoint", str(bad), "a"])
    assert_cli_error(code, err, "model.pt")


def test_an_ensemble_uses_its_members_tables_side_by_side(capsys, tmp_path):
    """An ensemble stores one C with each member's table side by side: a token's row is their concatenation, and
    the listing is the cosine over that whole row."""
    import torch
    from conftest import SMALL_WORDS, write_words

    from core.probes.neighbours import nearest

    words = write_words(tmp_path / "words.txt", SMALL_WORDS)
    code, _, err = run_cli(capsys, ["train", "--data", str(words), "--steps", "200", "--members", "2", "--emb-dim",
                                    "6", "--runs-dir", str(tmp_path / "runs"), "--quiet"])
    assert code == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    ckpt = torch.load(run / "model.pt", weights_only=True)
    C = ckpt["model"]["C"]  # (V, 6): n_embd is the ensemble's, 3 columns per member
    assert ckpt["model_config"]["members"] == 2 and C.shape[1] == 6
    code, out, _ = run_cli(capsys, ["neighbours", "--checkpoint", str(run), "m", "-k", "4"])
    assert code == 0
    vocab = ckpt["vocab"]
    want = [repr(vocab[i]) for i, _ in nearest(C.double().numpy(), vocab.index("m"), 4)]
    assert [t for t, _ in rows(out)] == want


def test_an_analogy_that_leaves_no_token_to_answer_with_is_one_line(capsys, tmp_path):
    """A model of two tokens ('.' and 'a'): an analogy over both leaves nothing to list, said in one line rather
    than a heading with no rows and exit 0."""
    words = tmp_path / "aa.txt"
    words.write_text("a\naa\n" * 10, encoding="utf-8")
    code, _, err = run_cli(capsys, ["train", "--data", str(words), "--steps", "20", "--out", str(tmp_path / "two"),
                                    "--quiet"])
    assert code == 0, err
    code, out, err = run_cli(capsys, ["neighbours", "--checkpoint", str(tmp_path / "two"), "--analogy", "a", ".", "a"])
    assert_cli_error(code, err, "2 tokens", "leaves none")
    assert out == ""

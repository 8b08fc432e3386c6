"""Damaged or foreign checkpoints through `eval` and `sample`: each refused in one line naming the file and the
problem, before an absurd model is built, and the file left as it was. In process: tests/unit/test_checkpoint.py."""

from __future__ import annotations

import pickle
import random
import warnings

import pytest
import torch
from conftest import SMALL_WORDS, assert_cli_error, assert_one_line, run_cli, write_words
from helpers import NAN, checkpoint_with, fingerprint, rewritten, write_bytes

from core.config import MAX_PARAMS
from core.errors import CheckpointError
from core.runs.checkpoint import load_checkpoint

BAD_CHECKPOINTS = [
    ("truncated-half", lambda src, d: write_bytes(d / "half.pt", src.read_bytes()[: src.stat().st_size // 2]),
     "not a readable checkpoint (the file is truncated or damaged"),
    ("truncated-10-bytes", lambda src, d: write_bytes(d / "ten.pt", src.read_bytes()[:10]),
     "not a readable checkpoint"),
    ("empty", lambda src, d: write_bytes(d / "empty.pt", b""), "not a readable checkpoint"),
    ("random-bytes", lambda src, d: write_bytes(d / "random.pt", random.Random(2).randbytes(5000)),
     "not a readable checkpoint (the file is damaged or of another kind)"),
    ("text-file", lambda src, d: write_words(d / "names.pt", SMALL_WORDS), "not a readable checkpoint"),
    ("version-99", lambda src, d: rewritten(src, d / "v99.pt", version=99),
     "checkpoint format version 99; this mlp-tui reads versions 1 and 2"),
    ("other-format", lambda src, d: rewritten(src, d / "fmt.pt", format="nanogpt"), "not an mlp-tui checkpoint"),
    ("a-tensor", lambda src, d: torch.save(torch.zeros(3), d / "tensor.pt") or d / "tensor.pt",
     "not an mlp-tui checkpoint"),
    ("absurd-model", lambda src, d: rewritten(
        src, d / "huge.pt", model_config={"vocab_size": 27, "block_size": 256, "n_embd": 4096, "n_hidden": 100_000}),
     "damaged checkpoint (the model (vocabulary 27, context 256, embedding 4,096, hidden 100,000) would have"),
    ("out-of-range-model", lambda src, d: rewritten(
        src, d / "huge.pt", model_config={"vocab_size": 27, "block_size": 3, "n_embd": 10, "n_hidden": 10**9}),
     "damaged checkpoint (n_hidden must be <= 100,000, got 1000000000)"),
    ("nan-lr", lambda src, d: rewritten(src, d / "nanlr.pt", train_config={"lr": NAN}),
     "damaged checkpoint (lr must be a finite number, got nan)"),
]


@pytest.mark.parametrize("command", ["eval", "sample"])
@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in BAD_CHECKPOINTS], ids=[c[0] for c in BAD_CHECKPOINTS])
def test_bad_checkpoints_are_refused_in_one_line(capsys, tmp_path, checkpoint, command, make, fragment, monkeypatch):
    import core.runs.checkpoint

    path = make(checkpoint, tmp_path)
    before = fingerprint(path)
    real_mlp = core.runs.checkpoint.MLP

    def guarded_mlp(cfg, *a, **k):  # an absurd config must be refused before the model is built
        assert cfg.num_params() <= MAX_PARAMS, "built an absurd model before refusing it"
        return real_mlp(cfg, *a, **k)

    monkeypatch.setattr(core.runs.checkpoint, "MLP", guarded_mlp)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e, str(path), fragment)
    code, out, err = run_cli(capsys, [command, "--checkpoint", str(path)])
    assert_cli_error(code, err, str(path), fragment)
    assert out == ""
    assert fingerprint(path) == before


def test_a_plain_pickle_is_refused_in_one_line(capsys, tmp_path):
    path = tmp_path / "model.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "mlp-tui-checkpoint", "version": 1}, f, protocol=4)
    with warnings.catch_warnings(record=True) as caught:  # outside pytest, a warning is printed to stderr
        warnings.simplefilter("always")
        code, _, err = run_cli(capsys, ["eval", "--checkpoint", str(path)])
    assert_cli_error(code, err, str(path), "not a readable checkpoint")
    assert [str(w.message) for w in caught] == []


BAD_FIELDS = [
    ("nan-weights", lambda ck: ck["model"]["W1"].fill_(float("nan")), "weights: W1 holds NaN or infinite values"),
    ("inf-bias", lambda ck: ck["model"]["b2"].__setitem__(0, float("inf")), "weights: b2 holds NaN"),
    ("wrong-shape", lambda ck: ck["model"].__setitem__("W1", torch.zeros(30, 7)),
     "weights: W1 has shape 30x7, the model's settings need 30x16"),
    ("missing", lambda ck: ck["model"].pop("W2"), "weights: no W2"),
    ("int-tensor", lambda ck: ck["model"].__setitem__("b1", torch.zeros(16, dtype=torch.long)), "b1 is not a float"),
    ("escape-vocab", lambda ck: ck.__setitem__("vocab", [".", "\x1b", *ck["vocab"][2:]]), "control characters"),
    ("long-vocab-entry", lambda ck: ck.__setitem__("vocab", [".", "\x1b]2;PWNED\x07\x1b[31m", *ck["vocab"][2:]]),
     "distinct characters"),
    ("no-boundary", lambda ck: ck.__setitem__("vocab", ["@", *ck["vocab"][1:]]), "boundary token"),
    ("step-float", lambda ck: ck.__setitem__("step", 1e999), "a step or seed is inf"),
    ("dataset-escape", lambda ck: ck.__setitem__("dataset", "\x1b[2J"), "dataset's name has control characters"),
    ("nan-best", lambda ck: ck.__setitem__("best_dev_loss", float("nan")), "best_dev_loss is nan"),
]


@pytest.mark.parametrize("command", ["sample", "eval"])
@pytest.mark.parametrize(("change", "fragment"), [b[1:] for b in BAD_FIELDS], ids=[b[0] for b in BAD_FIELDS])
def test_damaged_checkpoint_fields_are_refused_by_name(capsys, checkpoint, tmp_path, command, change, fragment):
    path = checkpoint_with(checkpoint, tmp_path / "bad.pt", change)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e, "damaged checkpoint", fragment)
    code, out, err = run_cli(capsys, [command, "--checkpoint", str(path)])
    assert_cli_error(code, err, fragment)
    assert out == "" and "\x1b" not in err and "\x07" not in err


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda ck: ck["model"].__setitem__("W2", ck["model"]["W2"].to_sparse()), "W2 is not a dense CPU tensor"),
    (lambda ck: ck["vocab"].__setitem__(5, "\ud800"), "control characters"),
])
def test_odd_tensors_characters_and_generator_states_are_refused(capsys, checkpoint, tmp_path, change, fragment):
    path = checkpoint_with(checkpoint, tmp_path / "bad.pt", change)
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(path)])
    assert_cli_error(code, err, fragment)

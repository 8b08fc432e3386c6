"""Ensembles on the command line: refused layouts in one line; train, list, evaluate and sample one."""

from __future__ import annotations

from conftest import assert_cli_error, run_cli
from unit.test_members import off_diagonal

from core.config import MLPConfig
from core.runs.checkpoint import load_checkpoint


def test_uneven_or_unsupported_members_are_one_line(capsys):
    for argv, fragment in ((["--members", "2", "--emb", "5"], "must be multiples of 2"),
                           (["--members", "2", "--arch", "hier", "--block-size", "4"], "members are for the lecture")):
        code, out, err = run_cli(capsys, ["train", "--steps", "5", *argv])
        assert_cli_error(code, err, fragment)
        assert out == ""


def test_train_an_ensemble_then_list_score_and_sample_it(capsys, words_file, tmp_path):
    runs = tmp_path / "runs"
    code, _, err = run_cli(capsys, ["train", "--data", str(words_file), "--members", "2", "--n-embd", "8",
                                    "--n-hidden", "32", "--steps", "300", "--runs-dir", str(runs), "--quiet"])
    assert code == 0, err
    (run,) = runs.iterdir()
    code, out, _ = run_cli(capsys, ["runs", "--runs-dir", str(runs)])
    assert code == 0 and "block 3 · emb 8 · hidden 32 · 2 members" in out
    code, out, _ = run_cli(capsys, ["eval", "--checkpoint", str(run / "model.pt")])
    assert code == 0 and '"dev_loss"' in out
    code, out, _ = run_cli(capsys, ["sample", "--checkpoint", str(run / "model.pt"), "-n", "5", "--seed", "1"])
    assert code == 0 and len(out.splitlines()) == 5
    ck = load_checkpoint(run / "model.pt")
    assert ck.model_config.members == 2 and float(off_diagonal(ck.model).abs().max()) == 0.0
    one = MLPConfig(vocab_size=ck.model_config.vocab_size, n_embd=4, n_hidden=16).num_params()
    assert ck.model.num_params() == 2 * one and f"{2 * one:,} parameters" in err

"""tui.cli: the headless commands, their outputs, and one-line errors with exit status 2 for bad input."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest
import torch
from conftest import SMALL_WORDS, TRAINED_HIDDEN, TRAINED_STEPS, assert_cli_error, run_cli, write_words
from helpers import COMMAND, ROOT, fingerprint, strict_json, train_argv

from core.config import MAX_BATCH
from core.model import MLP, MLPConfig
from core.runs.checkpoint import load_checkpoint
from tui.cli import build_parsers

# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--batch-size", "-5"], "--batch-size"),
        (["--hidden", "-3"], "--hidden"),
        (["--emb-dim", "0"], "--emb-dim"),
        (["--lr", "abc"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--lr", "-0.1"], "--lr"),
        (["--lr-decay", "0"], "--lr-decay"),
        (["--decay-at", "-1"], "--decay-at"),
        (["--steps", "0"], "--steps"),
        (["--steps", "1.5"], "--steps"),
        (["--block-size", "x"], "--block-size"),
        (["--seed", "-1"], "--seed"),
        (["--init", "xavier"], "--init"),
        (["--no-such-flag"], "unrecognized"),
    ],
)
def test_train_bad_flag_values(capsys, argv, fragment):
    code, out, err = run_cli(capsys, ["train", *argv])
    assert_cli_error(code, err, fragment)
    assert out == ""


def test_train_bad_data_files(capsys, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\x00\x01\x02")
    dotted = write_words(tmp_path / "dotted.txt", ["emma", "j.r."])
    for data, fragment in [
        ("/missing/file", "/missing/file: no such file"),
        (str(tmp_path), "is a directory"),
        (str(empty), "has no words"),
        (str(binary), "binary"),
        (str(dotted), "line 2 contains '.'"),
    ]:
        code, out, err = run_cli(capsys, ["train", "--data", data, "--steps", "10", "--out", str(tmp_path / "x")])
        assert_cli_error(code, err, fragment)
        assert data in err or "/missing/file" in err
    assert not (tmp_path / "x").exists()


def test_huge_model_is_refused(capsys, words_file, tmp_path):
    code, _, err = run_cli(capsys, ["train", "--data", str(words_file), "--hidden", "100000", "--emb-dim", "4096",
                                    "--block-size", "256", "--out", str(tmp_path / "x")])
    assert_cli_error(code, err, "parameters")


def test_sample_missing_checkpoint(capsys, tmp_path):
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(tmp_path / "nope.pt")])
    assert_cli_error(code, err, str(tmp_path / "nope.pt"), "no such checkpoint file")
    assert out == ""


def test_eval_text_file_checkpoint(capsys, words_file):
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(words_file)])
    assert_cli_error(code, err, str(words_file))
    assert out == ""


def test_eval_directory_checkpoint(capsys, tmp_path):
    code, _, err = run_cli(capsys, ["eval", "--checkpoint", str(tmp_path)])
    assert_cli_error(code, err, "is a directory")


def test_sample_bad_values(capsys, trained_run):
    _, out_dir = trained_run
    ck = str(out_dir / "model.pt")
    for argv, fragment in [
        (["-n", "0"], "-n"),
        (["--temperature", "-1"], "--temperature"),
        (["--temperature", "101"], "--temperature"),
        (["--temperature", "nan"], "--temperature"),
        (["--prefix", "é!"], "--prefix"),
        (["--prefix", "a."], "--prefix"),
    ]:
        code, _, err = run_cli(capsys, ["sample", "--checkpoint", ck, *argv])
        assert_cli_error(code, err, fragment)


@pytest.mark.slow
def test_the_installed_command_reports_bad_values_in_one_line(tmp_path):
    for argv in (["train", "--steps", "0"], ["train", "--data", "/missing/file"]):
        r = subprocess.run([*COMMAND, *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert_cli_error(r.returncode, r.stderr)
        assert r.stdout == ""


# ---------------------------------------------------------------- a real run


def test_train_writes_model_and_metrics(trained_run):
    words, out = trained_run  # (its exit status 0: asserted by the fixture)
    assert sorted(p.name for p in out.iterdir()) == [
        "evals.jsonl", "lock", "losses.f32", "metrics.json", "model.pt", "run.json", "samples.jsonl"]
    m = json.loads((out / "metrics.json").read_text())
    for key in ("steps", "seconds", "steps_per_second", "params", "train_loss", "dev_loss", "test_loss", "config"):
        assert key in m
    assert m["steps"] == TRAINED_STEPS
    assert m["params"] == MLPConfig(vocab_size=m["config"]["model"]["vocab_size"], n_hidden=TRAINED_HIDDEN).num_params()
    for key in ("seconds", "steps_per_second", "train_loss", "dev_loss", "test_loss"):
        assert isinstance(m[key], float) and math.isfinite(m[key]), key
    assert m["seconds"] > 0 and m["steps_per_second"] > 0
    assert 0 < m["train_loss"] < math.log(m["config"]["model"]["vocab_size"])  # learned something
    assert m["config"]["model"]["n_hidden"] == TRAINED_HIDDEN and m["config"]["model"]["block_size"] == 3
    assert m["config"]["train"]["steps"] == TRAINED_STEPS and m["config"]["train"]["lr"] == 0.1
    assert m["dataset"] == str(words)
    assert m["status"] == "done"


def test_train_progress_on_stderr(capsys, words_file, tmp_path):
    code, out, err = run_cli(capsys, ["train", "--data", str(words_file), "--steps", "50", "--hidden", "8",
                                      "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 0
    assert out == ""
    assert "50 steps" in err and "dev" in err and "metrics.json" in err


def test_train_says_when_a_broken_compiled_step_falls_back(capsys, words_file, tmp_path, monkeypatch):
    """numba installed but broken: the run trains on the torch kernels and says why in one line (a missing
    extra or MLP_TUI_KERNEL=torch say nothing: they are choices, and the bench names them)."""
    from core.kernels import jit

    def broken():
        raise RuntimeError("numba 0.0 needs numpy < 1")

    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    monkeypatch.setattr(jit, "_build", broken)
    argv = ["train", "--data", str(words_file), "--steps", "50", "--hidden", "8", "--quiet"]
    code, _, err = run_cli(capsys, [*argv, "--out", str(tmp_path / "r")])
    assert code == 0
    assert "note: numba failed to load: RuntimeError: numba 0.0 needs numpy < 1; training on the torch kernels" \
        in err
    monkeypatch.setenv("MLP_TUI_KERNEL", "torch")
    code, _, err = run_cli(capsys, [*argv, "--out", str(tmp_path / "r2")])
    assert code == 0 and "note:" not in err


def test_sample_prints_n_reproducible_lines(capsys, trained_run):
    _, out_dir = trained_run
    ck = str(out_dir / "model.pt")
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", ck, "-n", "5", "--seed", "3"])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 5
    vocab = set("".join(SMALL_WORDS))
    assert all(set(line) <= vocab for line in lines)
    again = run_cli(capsys, ["sample", "--checkpoint", ck, "-n", "5", "--seed", "3"])
    assert again == (0, out, "")
    other = run_cli(capsys, ["sample", "--checkpoint", ck, "-n", "5", "--seed", "4"])
    assert other[1] != out


def test_sample_prefix_and_mark(capsys, trained_run):
    _, out_dir = trained_run
    ck = str(out_dir / "model.pt")
    code, out, _ = run_cli(capsys, ["sample", "--checkpoint", ck, "-n", "8", "--seed", "1", "--prefix", "el"])
    assert code == 0
    assert len(out.splitlines()) == 8 and all(line.startswith("el") for line in out.splitlines())
    code, out, _ = run_cli(capsys, ["sample", "--checkpoint", ck, "-n", "200", "--seed", "1", "--mark",
                                    "--temperature", "0.5"])
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 200
    from core.data import Dataset

    train = Dataset.load(str(trained_run[0]), 3).train_set
    for line in lines:
        word, marked = (line[:-2], True) if line.endswith(" *") else (line, False)
        assert marked == (word in train)


def test_eval_matches_metrics(capsys, trained_run):
    words, out_dir = trained_run
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(out_dir / "model.pt")])
    assert code == 0 and err == ""
    report = json.loads(out)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    for key in ("train_loss", "dev_loss", "test_loss"):
        assert report[key] == pytest.approx(metrics[key], abs=1e-6)
    assert report["step"] == TRAINED_STEPS and report["params"] == metrics["params"]
    assert report["dataset"] == str(words)


def test_eval_on_other_data(capsys, trained_run, tmp_path, checkpoint):
    _, out_dir = trained_run
    ck = str(out_dir / "model.pt")
    same_letters = write_words(tmp_path / "more.txt", SMALL_WORDS[::-1] + ["lila", "milo"])
    code, out, _ = run_cli(capsys, ["eval", "--checkpoint", ck, "--data", str(same_letters)])
    assert code == 0
    assert json.loads(out)["dataset"] == str(same_letters)
    new_letters = write_words(tmp_path / "new.txt", SMALL_WORDS + ["xöx"])
    code, _, err = run_cli(capsys, ["eval", "--checkpoint", ck, "--data", str(new_letters)])
    assert_cli_error(code, err, "never saw")
    # (merged: the hostile pass's test_eval_on_data_with_another_vocabulary_is_refused)
    before = fingerprint(checkpoint)
    other = write_words(tmp_path / "other.txt", ["zoë", "josé", "ana", "chloé", "bo"] * 4)
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(checkpoint), "--data", str(other)])
    assert_cli_error(code, err, str(other), "has characters the model never saw: 'éë'")
    assert out == ""
    subset = write_words(tmp_path / "abc.txt", ["abc", "cab", "bca"] * 4)
    code, out, err = run_cli(capsys, ["eval", "--checkpoint", str(checkpoint), "--data", str(subset)])
    assert_cli_error(code, err, str(subset), "has a different vocabulary from the model's (4 vs")
    assert out == ""
    assert fingerprint(checkpoint) == before


# ---------------------------------------------------------------- parsers


def test_every_command_has_a_parser_and_a_function_to_run():
    """Each module of tui/subcommands/ registers its command with what it runs; the app's description names
    every command."""
    from tui.cli import COMMANDS, command_line

    cl = command_line()
    assert set(cl.parsers) == set(cl.runs) == {"app", *COMMANDS, "sweep show", "sweep export"}
    assert all(callable(run) for run in cl.runs.values())
    assert ", ".join(COMMANDS) in " ".join(cl.parsers["app"].description.split())


def test_sample_and_ngram_take_their_defaults_and_ranges_from_the_registry(capsys):
    """sample --temperature is the temperature setting; ngram --order is the block size + 1."""
    from core import settings

    temperature, block = settings.BY_NAME["temperature"], settings.BY_NAME["block_size"]
    sample = build_parsers()["sample"]
    assert sample.parse_args(["--checkpoint", "x"]).temperature == temperature.default
    assert f"({settings.fmt(temperature.lo)} to {settings.fmt(temperature.hi)})" in " ".join(
        sample.format_help().split())
    ngram = build_parsers()["ngram"].parse_args
    assert ngram([]).order == block.default + 1
    assert ngram(["--order", str(int(block.hi) + 1)]).order == block.hi + 1
    for bad in (str(int(block.lo)), str(int(block.hi) + 2)):
        code, _, err = run_cli(capsys, ["ngram", "--order", bad])
        assert_cli_error(code, err, f"from {int(block.lo) + 1} to {int(block.hi) + 1}")


@pytest.mark.parametrize(("flag", "value"), [("--dropout", "1"), ("--dropout", "-0.1"), ("--weight-decay", "-1"),
                                             ("--minutes", "0"), ("--optimizer", "adam"), ("--schedule", "linear"),
                                             ("--warmup", "-5"), ("--preset", "fastest")])
def test_bad_new_flags_exit_2(capsys, flag, value):
    code, _, err = run_cli(capsys, ["train", flag, value])
    assert_cli_error(code, err, flag)


def test_train_with_a_diverging_lr_reports_and_exits(capsys, words_file, tmp_path):
    code, _, err = run_cli(capsys, ["train", "--data", str(words_file), "--lr", "1000", "--steps", "200",
                                    "--hidden", "20", "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 1
    assert "lower learning rate" in err
    assert (tmp_path / "r" / "model.pt").is_file()
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["status"] == "diverged"


def test_the_app_starts_without_importing_torch():
    """The first frame must not wait for torch (~1-2 s to import): only the training process loads it."""
    code = "import sys, tui.app, tui.cli; print([m for m in ('torch', 'numba', 'scipy') if m in sys.modules])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"  # numba and scipy (the fast extra) stay in the training process too


@pytest.mark.slow
def test_bench_prints_both_loops_and_their_ratio(capsys, monkeypatch):
    """`mlp-tui bench`: steps/s of the lecture loop and of the trainer (on each kernel where numba is
    installed), and a ratio that is their quotient. Numbers only, no speed asserted (that is the bench's job)."""
    monkeypatch.delenv("MLP_TUI_KERNEL", raising=False)
    code, out, err = run_cli(capsys, ["bench", "--steps", "3000"])
    assert code == 0, err
    rates = {line.split("):")[0]: float(line.split("):")[1].split("steps/s")[0].replace(",", ""))
             for line in out.splitlines() if "steps/s" in line}
    ref = rates.pop("lecture loop (autograd, .item() per step")
    ours = rates.pop("mlp-tui trainer (numba step, many per call")
    assert set(rates) == {"mlp-tui trainer (torch kernels, no extra"} and min(ref, ours, *rates.values()) > 0
    ratio = float(re.search(r"^ratio: (\d+\.\d+)x", out, re.MULTILINE).group(1))
    assert ratio == pytest.approx(ours / ref, abs=0.02)
    monkeypatch.setenv("MLP_TUI_KERNEL", "torch")
    code, out, _ = run_cli(capsys, ["bench", "--steps", "3000"])
    assert code == 0 and "mlp-tui trainer (fused, no per-step sync):" in out
    assert "the compiled step is off: MLP_TUI_KERNEL=torch" in out and "torch kernels, no extra" not in out


@pytest.mark.slow
def test_bench_preset_prints_the_matmul_floor_and_our_share(capsys):
    code, out, err = run_cli(capsys, ["bench", "--preset", "tiny", "--steps", "3000"])
    assert code == 0, err
    m = re.search(r"matmul floor: ([\d,]+) us per step .* our share of the floor: (\d+)%", out)
    assert m and int(m.group(1).replace(",", "")) > 0 and 0 < int(m.group(2)) <= 100
    assert re.search(r"^mlp-tui trainer \((numba step|torch kernels)\):\s+[\d,]+ steps/s", out, re.MULTILINE)
    assert re.search(r"^ratio: \d+\.\d+x$", out, re.MULTILINE)


@pytest.mark.slow
def test_bench_of_an_ensemble_times_one_member(capsys):
    code, out, err = run_cli(capsys, ["bench", "--preset", "tiny", "--members", "2", "--n-embd", "4",
                                      "--n-hidden", "200", "--steps", "3000"])
    assert code == 0, err
    assert "an ensemble of 2 members: timing one (n_embd 2, n_hidden 100)" in out
    assert "3,481 parameters" in out  # the lecture's first model, as one member of tiny's shape


@pytest.mark.parametrize("argv", [["bench"], ["bench", "--preset", "tiny"]])
def test_bench_refuses_too_few_steps_for_a_ratio(capsys, argv):
    """`bench --steps 10` printed a ratio of the trainer's start-up (0.4x where it is 5x): refused in one line."""
    from tui.subcommands.bench import MIN_STEPS

    for steps in ("10", str(MIN_STEPS - 1)):
        code, out, err = run_cli(capsys, [*argv, "--steps", steps])
        assert_cli_error(code, err, f"--steps {int(steps):,}", f"at least {MIN_STEPS:,}")
        assert out == ""


def test_an_unknown_kernel_choice_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("MLP_TUI_KERNEL", "garbage")
    code, out, err = run_cli(capsys, ["bench", "--steps", "100"])
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["mlp-tui: error: MLP_TUI_KERNEL='garbage': use torch (the torch kernels), "
                                        "or auto or numba (the compiled step where numba is installed)"]


INT_FLAGS = ["--batch-size", "--steps", "--hidden", "--emb-dim", "--block-size"]


NONNEG_INT_FLAGS = ["--decay-at", "--warmup", "--patience", "--seed"]


POS_FLOAT_FLAGS = ["--lr", "--lr-decay", "--minutes"]


BAD_FLAGS = (
    [(f, v) for f in INT_FLAGS for v in ("0", "-1", "abc", "nan", "inf", "1.5", "1e3", "")]
    + [(f, v) for f in NONNEG_INT_FLAGS for v in ("-1", "abc", "nan", "1.5")]
    + [(f, v) for f in POS_FLOAT_FLAGS for v in ("0", "-1", "abc", "nan", "inf", "-inf", "1e999", "1e-999")]
    + [("--weight-decay", v) for v in ("-1", "abc", "nan", "inf")]
    + [("--dropout", v) for v in ("-0.1", "1", "abc", "nan", "inf")]
)


@pytest.mark.parametrize(("flag", "value"), BAD_FLAGS, ids=[f"{f}={v}" for f, v in BAD_FLAGS])
def test_bad_flag_values_exit_2_in_one_line(capsys, tmp_path, flag, value):
    code, out, err = run_cli(capsys, ["train", f"{flag}={value}", "--out", str(tmp_path / "run")])
    assert_cli_error(code, err, flag)
    assert out == "" and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--block-size", "256", "--hidden", "100000", "--emb-dim", "4096"],
         ["would have 104,", "parameters", "GiB of weights"]),
        (["--hidden", "100000"], ["hidden 100,000", "activations of 8,192 examples"]),
        (["--block-size", "128", "--emb-dim", "4096"], ["embedding 4,096", "activations"]),
        (["--hidden", "3000000"], ["--hidden", "must be <= 100,000"]),  # beyond the setting's range
        (["--batch-size", "1000000000"], [f"must be <= {MAX_BATCH:,}"]),
        (["--seed", str(2**64)], [f"must be <= {2**63 - 1:,}"]),
    ],
)
def test_absurd_flags_are_refused_before_the_model_is_built(capsys, tmp_path, words_file, monkeypatch, argv,
                                                            fragments):
    import core.engine.train

    def never(*a, **k):
        raise AssertionError("built the model before refusing it")

    monkeypatch.setattr(core.engine.train, "MLP", never)
    code, _, err = run_cli(capsys, train_argv(words_file, tmp_path / "run", *argv))
    assert_cli_error(code, err, *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_lr_1000_diverges_is_reported_and_saves_the_last_good_weights(tmp_path):
    """`mlp-tui train --lr 1000 --steps 5000` (the installed command, so a hang is a timeout, not a stuck suite)."""
    out = tmp_path / "run"
    r = subprocess.run([*COMMAND, "train", "--lr", "1000", "--steps", "5000", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert "Traceback" not in r.stderr
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.splitlines() if "training diverged" in line]
    assert len(lines) == 1, r.stderr
    m = re.search(r"the loss (became non-finite|jumped to \S+) at step ([\d,]+) with lr 1000\. .*weights from "
                  r"step ([\d,]+) restored\. Try a lower learning rate", lines[0])
    assert m, lines[0]
    good_step = int(m.group(3).replace(",", ""))
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt.step == good_step < 5000
    for name, t in ckpt.model.state_dict().items():
        assert bool(torch.isfinite(t).all()), name
    if good_step == 0:  # the last good weights are the initial ones
        init = MLP(ckpt.model_config, torch.Generator().manual_seed(ckpt.train_config.seed))
        for a, b in zip(init.parameters(), ckpt.model.parameters()):
            assert torch.equal(a, b)
    metrics = strict_json((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["steps"] == good_step
    assert all(math.isfinite(metrics[k]) for k in ("train_loss", "dev_loss", "test_loss"))


def test_eval_when_the_training_data_is_gone(capsys, tmp_path, trained_run):
    """The checkpoint names its data by absolute path; moved away, eval says which file is missing."""
    words, run = trained_run
    moved = tmp_path / "words.txt"
    moved.write_bytes(words.read_bytes())
    words.unlink()
    try:
        code, _, err = run_cli(capsys, ["eval", "--checkpoint", str(run)])
        assert_cli_error(code, err, str(words), "no such file")
    finally:
        words.write_bytes(moved.read_bytes())


@pytest.mark.slow
def test_a_closed_stderr_pipe_does_not_lose_the_run(tmp_path, words_file):
    out = tmp_path / "p"
    cmd = " ".join(f"'{c}'" for c in COMMAND)
    r = subprocess.run(f"{cmd} train --data '{words_file}' --steps 20000 --n-hidden 16 --out '{out}' 2>&1 | head -c 1",
                       shell=True, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "done" and info["step"] == 20000 and (out / "metrics.json").exists()


# ---------------------------------------------------------------- the app needs a terminal
def test_the_app_refuses_a_stdout_that_is_not_a_terminal(tmp_path, words_file):
    """`mlp-tui | tail`: the app would draw out of sight and train unseen. One line, exit 2, pointing to train;
    no training process is started (the command ends at once)."""
    import os

    primary, secondary = os.openpty()  # stdin a terminal, stdout a pipe
    try:
        r = subprocess.run([sys.executable, "-m", "tui.cli", "--data", str(words_file), "--hidden", "16"],
                           stdin=secondary, capture_output=True, text=True, timeout=60, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT), "TEXTUAL_DRIVER": ""})
    finally:
        os.close(primary)
        os.close(secondary)
    assert_cli_error(r.returncode, r.stderr, "stdout is not a terminal", "mlp-tui train")
    assert r.stdout == ""


@pytest.mark.parametrize("stream", ["stdin", "stdout"])
def test_the_app_names_the_stream_that_is_not_a_terminal(capsys, monkeypatch, words_file, stream):
    """`mlp-tui < /dev/null` as well: its keys would never arrive (q would not quit)."""
    import io

    import tui.app

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    other = "stdout" if stream == "stdin" else "stdin"
    monkeypatch.setattr(sys, other, Terminal())
    monkeypatch.setattr(sys, stream, io.StringIO())
    monkeypatch.setattr(tui.app, "run_app", lambda *a, **k: pytest.fail("the app started"))
    code, _, err = run_cli(capsys, ["--data", str(words_file)])
    assert_cli_error(code, err, f"{stream} is not a terminal")


def test_the_app_under_serve_runs_on_pipes(capsys, monkeypatch, words_file):
    """textual-serve runs the app with stdin and stdout on pipes, by design, in the environment it builds: there
    the app starts (tests/functional/test_serve.py sees it draw in a browser session)."""
    app_service = pytest.importorskip("textual_serve.app_service")
    import tui.app

    async def nothing(*_: object) -> None:
        return None

    service = app_service.AppService("mlp-tui", write_bytes=nothing, write_str=nothing, close=nothing,
                                     download_manager=None)
    for key, value in service._build_environment().items():
        monkeypatch.setenv(key, value)
    started = []
    monkeypatch.setattr(tui.app, "run_app", lambda values, **kw: started.append(values) or 0)
    code, _, err = run_cli(capsys, ["--data", str(words_file), "--hidden", "16"])  # stdin, stdout: pytest's
    assert code == 0, err
    assert started and started[0]["n_hidden"] == 16


def test_every_error_has_one_prefix(capsys, words_file):
    """argparse's errors, a setting's and a file's: all `mlp-tui: error: `, the command named by its --help."""
    code, _, err = run_cli(capsys, ["train", "--bogus"])
    assert_cli_error(code, err, "unrecognized arguments: --bogus", "(see mlp-tui train --help)")
    code, _, err = run_cli(capsys, ["sweep", "show"])
    assert_cli_error(code, err, "(see mlp-tui sweep show --help)")
    code, _, err = run_cli(capsys, ["train", "--data", str(words_file), "--lr", "\x1b[31m"])
    assert_cli_error(code, err, "--lr", "\\x1b")  # argparse's message quotes the text: escaped too
    code, _, err = run_cli(capsys, ["train", "--data", "nowhere.txt"])
    assert_cli_error(code, err, "nowhere.txt")


def test_run_json_and_metrics_json_tell_the_same_seconds(trained_run):
    """A short run's training time: run.json said the steps' own time, metrics.json the wall time to the end of
    the final evaluation and save (0.0 against 0.7 s for 5 steps). Both now write core.runs.writer.clocks, and
    metrics.json's dev curve counts seconds as evals.jsonl does."""
    from core.runs.folder import EVALS, read_info, read_metrics

    _, run = trained_run
    info, metrics = read_info(run), json.loads((run / "metrics.json").read_text())
    for key in ("seconds", "wall"):
        assert metrics[key] == info[key], key
    assert read_metrics(run)["seconds"] == info["seconds"]
    last = json.loads((run / EVALS).read_text().splitlines()[-1])
    assert metrics["dev_curve"][-1][0] == last["seconds"]
    assert metrics["dev_curve"][-1][1] == last["step"] == metrics["steps"]


@pytest.mark.slow
def test_bench_of_the_bengio_preset_times_the_wide_kernel_on_its_corpus(capsys, monkeypatch):
    """`bench --preset bengio`: on the built-in kjv as words, the trainer on the wide kernel, the plain loop, the
    ratio and the share of the floor (steps cut down for the test)."""
    from tui.subcommands import bench

    monkeypatch.setattr(bench, "SMALL_STEP_MACS", 1)  # the minimum falls to MIN_BIG_STEPS
    code, out, err = run_cli(capsys, ["bench", "--preset", "bengio", "--steps", str(bench.MIN_BIG_STEPS),
                                      "--threads", "1"])
    assert code == 0, err
    assert re.match(r"--preset bengio on kjv: [\d,]+ parameters, batch 256, adamw, 20 steps each, 1 thread\n", out), out
    rates = re.findall(r"^(plain PyTorch|mlp-tui trainer \((?:wide kernel, OpenBLAS|torch kernels)\)).*?"
                       r"(\d+\.\d\d) steps/s", out, re.MULTILINE)
    assert [who for who, _ in rates][0] == "plain PyTorch" and len(rates) == 2
    plain, ours = (float(rate) for _, rate in rates)
    assert float(re.search(r"^ratio: (\d+\.\d+)x", out, re.MULTILINE).group(1)) == pytest.approx(ours / plain,
                                                                                                 abs=0.02)
    m = re.search(r"matmul floor: ([\d,]+) us per step .* our share of the floor: (\d+)%", out)
    assert m and int(m.group(1).replace(",", "")) > 1000 and 0 < int(m.group(2)) <= 100


def test_bench_of_a_big_step_needs_fewer_steps_yet_some(capsys):
    from tui.subcommands.bench import min_steps

    assert min_steps(1_000) == 3_000 and min_steps(10**12) == 20
    code, out, err = run_cli(capsys, ["bench", "--preset", "bengio", "--steps", "10"])
    assert_cli_error(code, err, "--steps 10", "at least")
    least = int(re.search(r"at least ([\d,]+) steps", err).group(1).replace(",", ""))
    assert 10 < least < 3_000  # fewer than a small model's, as a step of the kjv's words is big
    assert out == ""

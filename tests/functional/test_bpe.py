"""BPE through the command line: `train --tokens bpe` end to end (run folder, tokenizer, chars_per_token, bits per
character), then sample with a prompt, neighbours, eval, a resumed run, `ngram` on BPE tokens, and the refusals in
one line (a word list, a vocabulary out of range, the library missing)."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch
from apphelpers import Harness, running, screen_text, until
from conftest import assert_cli_error, run_cli
from wordtext import write_text

from core.runs.folder import read_info


@pytest.fixture(autouse=True)
def _library(request):
    """The tests that train need the library (the `bpe` extra); the refusals, and the one of its absence, do not."""
    if not any(k in request.node.name for k in ("without_the_library", "bad_bpe_settings")):
        pytest.importorskip("tokenizers")


def test_train_bpe_end_to_end_then_sample_neighbours_eval_and_resume(capsys, tmp_path):
    data, out = write_text(tmp_path / "t.txt", lines=300), tmp_path / "run"
    code, _, err = run_cli(capsys, ["train", "--format", "text", "--tokens", "bpe", "--bpe-vocab", "300", "--data",
                                    str(data), "--steps", "50", "--out", str(out), "--quiet"])
    assert code == 0, err
    assert "300 BPE tokens (learned in" in err and "bpc train" in err
    info = read_info(out)
    assert info["data"] == {"format": "text", "tokens": "bpe", "min_count": 4, "lower": False, "bpe_vocab": 300}
    assert info["vocab_size"] == 300 and set(info["chars_per_token"]) == {"train", "dev", "test"}
    spec = (out / "tokenizer.json").read_text(encoding="utf-8")
    assert torch.load(out / "model.pt", weights_only=True)["tokenizer"] == spec
    metrics = json.loads((out / "metrics.json").read_text())
    dev = metrics["measures"]["dev"]
    assert dev["bpc"] == pytest.approx(metrics["dev_loss"] / math.log(2) / info["chars_per_token"]["dev"])
    code, stdout, err = run_cli(capsys, ["sample", "--checkpoint", str(out), "-n", "3", "--seed", "1", "--prefix",
                                         "Dora  saw"])
    assert code == 0, err
    assert stdout.count("\n") == 3 and all(line.startswith("Dora saw") for line in stdout.splitlines())
    word = next(t[1:] for t in info_tokens(out) if t.startswith("▁") and len(t) > 2)
    code, stdout, err = run_cli(capsys, ["neighbours", "--checkpoint", str(out), word, "-k", "3"])
    assert code == 0, err
    assert f"nearest to {word!r} (the token '▁{word}')" in stdout and stdout.count("\n") == 4
    code, _, err = run_cli(capsys, ["neighbours", "--checkpoint", str(out), "xylophonic"])
    assert_cli_error(code, err, "'xylophonic' is", "tokens of this model", "give one")
    code, stdout, err = run_cli(capsys, ["eval", "--checkpoint", str(out)])
    assert code == 0, err
    assert json.loads(stdout)["measures"]["dev"]["bpc"] == pytest.approx(dev["bpc"])
    code, _, err = run_cli(capsys, ["train", "--resume", str(out), "--steps", "80", "--quiet"])
    assert code == 0, err
    assert "(the run's own)" in err and read_info(out)["step"] == 80


def info_tokens(run) -> list[str]:
    from core.runs.checkpoint import load_checkpoint

    return list(load_checkpoint(run / "model.pt").vocab.itos[257:])  # the merges' tokens


def test_ngram_on_bpe_tokens_reports_bits_per_character(capsys, tmp_path):
    data = write_text(tmp_path / "t.txt", lines=300)
    code, stdout, err = run_cli(capsys, ["ngram", "--format", "text", "--tokens", "bpe", "--bpe-vocab", "300",
                                         "--data", str(data), "--order", "3"])
    assert code == 0, err
    report = json.loads(stdout)
    assert report["data"]["bpe_vocab"] == 300 and report["vocab_size"] == 300
    assert all(0 < report["measures"][s]["bpc"] < 8 for s in ("train", "dev", "test"))
    assert "bpc_note" not in report  # nothing is <unk>: not a lower bound


@pytest.mark.parametrize(("argv", "fragments"), [
    (["--tokens", "bpe"], ("--tokens bpe learns its tokens from running text", "--format text")),
    (["--format", "text", "--tokens", "bpe", "--bpe-vocab", "100"], ("--bpe-vocab", "257")),
    (["--format", "text", "--tokens", "bpe", "--bpe-vocab", "60000"], ("--bpe-vocab", "50,000")),
])
def test_bad_bpe_settings_are_one_line(capsys, tmp_path, argv, fragments):
    data = write_text(tmp_path / "t.txt", lines=50)
    code, _, err = run_cli(capsys, ["train", "--data", str(data), "--steps", "5", "--out", str(tmp_path / "r"),
                                    *argv])
    assert_cli_error(code, err, *fragments)


def test_bpe_without_the_library_is_one_line_naming_pip(capsys, tmp_path, monkeypatch):
    data = write_text(tmp_path / "t.txt", lines=50)
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # as if not installed: import raises ImportError
    code, _, err = run_cli(capsys, ["train", "--format", "text", "--tokens", "bpe", "--data", str(data), "--steps",
                                    "5", "--out", str(tmp_path / "r")])
    assert_cli_error(code, err, "tokenizers", "pip install 'mlp-tui[bpe]'")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
async def test_every_view_opens_on_a_bpe_model(harness: Harness, tmp_path) -> None:
    """The app on a BPE model of running text: it trains, its split pane and samples show, and every view opens
    (the map, the lr finder, scoring, health, runs, the dataset with its merges' count) without a crash."""
    from tui.views.dataset import DatasetView

    harness.data = write_text(tmp_path / "t.txt", lines=200)
    app = harness.app(hidden=16, format="text", tokens="bpe", bpe_vocab=300)
    async with app.run_test(size=(160, 48)) as pilot:
        await running(pilot, harness)
        assert harness.trainer.data.vocab.tokens == "bpe" and len(harness.trainer.data.vocab) == 300
        await until(pilot, lambda: "300 BPE tokens" in app.sub_title, what="the subtitle")
        await until(pilot, lambda: "bpc: bits per character" in screen_text(app), what="the split pane's bpc")
        await pilot.press("s", "e")  # sample and evaluate now
        for key in ("v", "f", "n", "h", "o", "d"):  # embeddings, lr finder, scoring, health, runs, dataset
            await pilot.press(key)
            await pilot.pause(1.0)
            assert app.status not in ("crashed", "error"), key
            if key == "d":
                await until(pilot, lambda: isinstance(app.screen, DatasetView)
                            and "merges learned on train" in screen_text(app), what="the dataset view")
            await pilot.press("escape")
            await pilot.pause(0.3)
        assert app.status not in ("crashed", "error") and harness.trainer.step > 0

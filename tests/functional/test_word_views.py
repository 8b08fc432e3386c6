"""Every command and every view on a tiny word model of running text (issue 22): no traceback, and what each shows
is about words (perplexity beside the loss, the most frequent words on the embedding map, the dataset's tokens,
vocabulary and <unk> rate), not about names and characters."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
from pathlib import Path

import pytest
from apphelpers import Harness, running, screen_text, until
from conftest import run_cli

from core.runs.listing import perplexity_text

SUBJECTS = ["the cat", "the dog", "a bird", "my friend", "the king", "his wife"]
VERBS = ["sat on", "looked at", "ran to", "slept by", "sang near"]
OBJECTS = ["the mat", "the tree", "a house", "the river", "her garden", "the gate"]


def story(path: Path, lines: int = 240) -> Path:
    """A small running text of simple sentences, seeded (every word is seen often: few <unk>)."""
    rng = random.Random(0)
    text = [f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice('.!?')}"
            for _ in range(lines)]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


WORD_FLAGS = ["--format", "text", "--tokens", "words", "--min-count", "2", "--block-size", "3", "--n-embd", "8",
              "--n-hidden", "16", "--optimizer", "adamw", "--lr", "0.01"]


def ok(result: tuple[int, str, str]) -> tuple[str, str]:
    code, out, err = result
    assert code == 0, err
    assert "Traceback" not in out + err
    return out, err


@pytest.mark.slow
def test_every_command_runs_on_a_word_model(capsys, tmp_path):
    data = story(tmp_path / "story.txt")
    runs = tmp_path / "runs"
    run = runs / "words"
    _, err = ok(run_cli(capsys, ["train", "--data", str(data), *WORD_FLAGS, "--steps", "300", "--out", str(run),
                                 "--quiet"]))
    assert "perplexity train" in err and "bpc" in err and "words" in err
    metrics = json.loads((run / "metrics.json").read_text())

    out, _ = ok(run_cli(capsys, ["eval", "--checkpoint", str(run)]))
    report = json.loads(out)
    assert report["measures"]["dev"]["perplexity"] == pytest.approx(math.exp(report["dev_loss"]))
    assert report["data"]["tokens"] == "words"

    out, _ = ok(run_cli(capsys, ["sample", "--checkpoint", str(run), "-n", "4"]))
    lines = out.strip().splitlines()
    vocab = set(data.read_text().replace("\n", " ").replace(".", " . ").replace("!", " ! ").replace("?", " ? ").split())
    assert len(lines) == 4 and all(set(line.split()) <= vocab | {"<unk>"} for line in lines)  # lines of its words

    out, _ = ok(run_cli(capsys, ["export", str(run)]))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 300 and rows[0]["step"] == "1"

    out, _ = ok(run_cli(capsys, ["recipe", str(run)]))
    assert 'tokens = "words"' in out and 'format = "text"' in out

    out, _ = ok(run_cli(capsys, ["runs", "--runs-dir", str(runs)]))
    header, line = out.splitlines()[1:3]
    assert "dev ppl" in header and "bpc" in header
    best = metrics["best_dev_loss"]
    assert perplexity_text(math.exp(best)) in line.split()
    bpc = best * metrics["measures"]["dev"]["bpc"] / metrics["dev_loss"]
    assert f"{bpc:.3f}" in line.split()  # running text: the best dev loss in bits per character

    out, _ = ok(run_cli(capsys, ["neighbours", "--checkpoint", str(run), "cat"]))
    assert "nearest to 'cat'" in out
    out, _ = ok(run_cli(capsys, ["neighbours", "--checkpoint", str(run), "--analogy", "cat", "dog", "king"]))
    assert "'cat' - 'dog' + 'king'" in out

    out, _ = ok(run_cli(capsys, ["bench", "--data", str(data), *WORD_FLAGS[:6], "--n-embd", "4", "--n-hidden", "8",
                                 "--steps", "3000"]))
    assert "mlp-tui trainer" in out and "matmul floor" in out

    storage = f"sqlite:///{tmp_path / 'sweeps.db'}"
    ok(run_cli(capsys, ["sweep", "--study", "w", "--storage", storage, "--data", str(data), *WORD_FLAGS,
                        "--space", "lr=0.003:0.03:log", "--trials", "1", "--trial-steps", "100", "--workers", "1",
                        "--runs-dir", str(runs)]))
    out, _ = ok(run_cli(capsys, ["sweep", "show", "w", "--storage", storage]))
    assert "dev ppl" in out and "(perplexity " in out and "--tokens words" in out


@pytest.mark.slow
async def test_every_view_opens_on_a_word_model(harness: Harness, capsys, tmp_path) -> None:
    """The app on a word model, every view in turn (and a run compared): each shows words, none crashes."""
    from tui.views.dataset import DatasetView
    from tui.views.embeddings import EmbeddingsView

    harness.data = story(tmp_path / "story.txt")
    other = Path(os.environ["MLP_TUI_RUNS_DIR"]) / "other"
    ok(run_cli(capsys, ["train", "--data", str(harness.data), *WORD_FLAGS, "--steps", "50", "--out", str(other),
                        "--quiet"]))
    app = harness.app(hidden=16, n_embd=8, format="text", tokens="words", min_count=2, optimizer="adamw", lr=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, harness)
        assert harness.trainer.data.vocab.tokens == "words"
        await pilot.resize_terminal(160, 48)  # room for the split pane's note of the perplexity
        await until(pilot, lambda: "perplexity per token: dev" in screen_text(app), what="the perplexity")
        await pilot.press("s", "e")  # sample and evaluate now (a full evaluation of a word model)
        await pilot.resize_terminal(120, 40)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, EmbeddingsView) and "most frequent" in screen_text(app)
                    and {"the", "cat", "dog"} <= set(screen_text(app).split()),  # frequent words as labels, whole
                    what="the word map")
        text = screen_text(app)
        assert "vowels" not in text and "</s> <unk> magenta" in text
        await pilot.press("escape")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DatasetView) and "most frequent words" in screen_text(app),
                    what="the dataset view")
        text = screen_text(app)
        assert "running text of words (min count 2)" in text and "<unk>" in text and "tokens per line" in text
        assert "word lengths" not in text and "dev words also in train" not in text
        await pilot.press("escape")
        expected = {"f": "learning", "n": "core", "h": "saturat", "o": "dev ppl", "t": "stud", "x": "exercise",
                    "question_mark": "embedding map"}
        for key, fragment in expected.items():
            await pilot.press(key)
            await until(pilot, lambda f=fragment: f.lower() in screen_text(app).lower(), what=f"view {key}")
            if key == "o":  # the runs view: compare the other word run's loss curve
                app.toggle_compare(str(other))
                await until(pilot, lambda: app.compared_runs() == [str(other)], what="the comparison")
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert app.status not in ("crashed", "error"), (key, app.last_error)
        assert app.last_error in (None, ""), app.last_error
        assert harness.trainer.step > 0

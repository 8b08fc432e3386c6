"""One Session drives both front ends: the app's training process and `mlp-tui train` give the same losses at
the same steps, and apply patience and keep_best by the same rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apphelpers import Harness, until
from conftest import run_cli

from core.engine.session import Session
from core.runs.folder import read_evals, read_info, read_losses


@pytest.mark.slow
@pytest.mark.parametrize(("members", "costly"), [(1, False), (2, False), (2, True)])  # an ensemble's members train
async def test_the_app_and_the_cli_train_the_same_losses_bit_for_bit(harness: Harness, capsys, tmp_path, monkeypatch,
                                                                     members: int, costly: bool) -> None:
    """Costly: the first evaluation reads samples (core.engine.policy: FIRST_SPLIT_WORK), as `best`'s does; its
    cores are a core per member in both (test_cores.py), and its losses are the same in both too."""
    if costly:
        import core.engine.session

        monkeypatch.setattr(core.engine.session, "FIRST_SPLIT_WORK", 1)  # every split: a sample of one row
    out = tmp_path / "cli-run"
    settings = ["--n-hidden", "32", "--steps", "3000", "--seed", "7", "--optimizer", "adamw", "--lr", "0.01",
                "--dropout", "0.1", "--schedule", "cosine", "--members", str(members), "--n-embd", "8"]
    code, _, err = run_cli(capsys, ["train", "--data", str(harness.data), *settings, "--out", str(out), "--quiet"])
    assert code == 0, err
    app = harness.app(n_hidden=32, steps=3000, seed=7, optimizer="adamw", lr=0.01, dropout=0.1, schedule="cosine",
                      members=members, n_embd=8)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.status == "done", timeout=60, what="the app's run to finish")
        run = Path(app.run_path)
    cli, ours = read_losses(out), read_losses(run)
    assert len(cli) == len(ours) == 3000
    assert cli.tobytes() == ours.tobytes()  # every step's loss, to the bit
    assert read_info(run)["status"] == read_info(out)["status"] == "done"
    first = [{k: v for k, v in read_evals(path)[0].items() if k != "seconds"} for path in (out, run)]
    assert first[0] == first[1] and first[0]["step"] == 0  # the same first losses, on samples if costly
    assert json.loads((out / "metrics.json").read_text())["dev_loss"] == read_evals(out)[-1]["dev"]  # the end's: full


def _overfitting_args(words: Path) -> list[str]:
    # 70 names, a wide layer and a large lr: the dev loss bottoms out within seconds and then rises
    return ["--data", str(words), "--n-hidden", "300", "--lr", "0.3", "--steps", "100000000", "--patience", "2",
            "--keep-best", "--lr-decay", "1"]


@pytest.mark.slow
async def test_the_app_honours_patience_and_keep_best_like_the_cli(harness: Harness, capsys, tmp_path) -> None:
    out = tmp_path / "cli-run"
    code, _, err = run_cli(capsys, ["train", *_overfitting_args(harness.data), "--out", str(out), "--quiet"])
    assert code == 0, err
    assert "stopped early: no better dev loss in 2 evaluations" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kept"] == "best" and metrics["dev_loss"] == pytest.approx(metrics["best_dev_loss"], abs=1e-6)

    app = harness.app(n_hidden=300, lr=0.3, steps=100_000_000, patience=2, keep_best=True, lr_decay=1.0)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until(pilot, lambda: app.status == "done", timeout=90, what="patience to stop the app's run")
        session = harness.pump.session
        assert session.message == "stopped early: no better dev loss in 2 evaluations"
        assert session.kept == "best"
        tr = session.trainer
        assert tr.best_dev_step < tr.step
        assert session.kept_losses["dev"] == pytest.approx(tr.best_dev, abs=1e-6)  # the best weights are back
        assert session.kept_losses["dev"] < session.final_losses["dev"]
    assert read_info(app.run_path)["status"] == "done"


@pytest.mark.slow
def test_a_stall_during_an_evaluation_does_not_space_out_the_next_ones(small_data, monkeypatch):
    """Wall time lost in an evaluation (swap, Ctrl+Z) is not its cost; and the interval has a ceiling."""
    import time

    from conftest import small_trainer

    import core.engine.session
    import core.model

    real = core.model.split_loss

    def stalled(*args, **kw):
        time.sleep(0.5)  # waiting, not computing
        return real(*args, **kw)

    monkeypatch.setattr(core.model, "split_loss", stalled)
    tr = small_trainer(small_data, steps=10**9)
    s = Session(tr)
    s.resume()
    while not [e for e in tr.evals if e[0] > 0]:
        s.step()
    assert s.eval_cost < 0.2 and s.eval_interval == core.engine.session.EVAL_INTERVAL
    s.eval_cost = 1e6
    assert s.eval_interval == core.engine.session.EVAL_MAX_INTERVAL == 30.0


def test_the_protocol_docstring_lists_every_message():
    """Every command and event of core.link.protocol is in its docstring (Counts was missing once)."""
    import dataclasses
    import re

    from core.link import protocol as P

    results = {"Snapshot", "EmbeddingMap", "LRFind", "Health"}  # carried inside messages, not messages
    own = (P.__name__, "core.link.baselines_events", "core.link.neighbours_messages",  # kept apart, read as P.X
           "core.link.tokenizer_messages")
    messages = {n for n, v in vars(P).items() if isinstance(v, type) and dataclasses.is_dataclass(v)
                and v.__module__ in own} - results
    listed = set(re.findall(r"\b([A-Z][A-Za-z]+)\b", P.__doc__ or ""))
    assert {"Counts", "ScoreText", "Scored"} <= messages
    assert messages <= listed, messages - listed

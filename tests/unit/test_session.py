"""The Session in process: patience counts scheduled evaluations only, it trains without a run folder, and
scheduled evaluations keep to their share of the time (app against CLI: tests/functional/test_session.py)."""

from __future__ import annotations

import os

import pytest

from core.engine.session import Session


def test_patience_counts_scheduled_evaluations_only(small_data, monkeypatch):
    """Evaluations on request (e, a pause) do not count towards patience, in app and CLI alike."""
    from conftest import small_trainer

    import core.engine.session

    monkeypatch.setattr(core.engine.session, "EVAL_INTERVAL", 1e9)  # no scheduled evaluation at all
    tr = small_trainer(small_data, lr=0.3, patience=1, n_hidden=64, steps=10**9)
    s = Session(tr)
    s.resume()
    for _ in range(20):
        s.step()
        s.evaluate(full=True)  # unscheduled: never counts
    assert s.running and s.stale == 0
    s.apply({"steps": tr.step + 100})
    while s.step():
        pass
    assert s.status == "done" and s.message == ""  # ended at its length, not by patience


def test_a_session_without_a_run_folder_trains_and_reports(small_data):
    from conftest import small_trainer

    events: list[str] = []
    tr = small_trainer(small_data, steps=500)
    s = Session(tr, emit=lambda event: events.append(type(event).__name__))
    s.evaluate(full=True)
    assert s.resume()
    s.step_for(10)
    assert s.status == "done" and tr.step == 500
    assert events.count("Done") == 1 and "Evaluated" in events and "Samples" in events
    assert not s.resume()  # at its end: raise steps to go on
    s.apply({"steps": 600})
    assert s.status == "paused" and s.resume()
    s.step_for(10)
    assert tr.step == 600 and os.environ.get("MLP_TUI_RUNS_DIR")


@pytest.mark.slow
def test_a_slow_evaluation_is_scheduled_less_often(small_data, monkeypatch):
    """Scheduled evaluations cost at most EVAL_SHARE of the training time: a model whose dev + test + train
    sample take 0.3 s is evaluated every 6 s of training, not every 2 s (a third of a 5-minute run)."""
    import time

    from conftest import small_trainer

    import core.engine.session
    import core.model

    real = core.model.split_loss

    def slow(*args, **kw):
        end = time.process_time() + 0.1  # three of these per scheduled evaluation: CPU work, as a big model's
        while time.process_time() < end:
            pass
        return real(*args, **kw)

    monkeypatch.setattr(core.model, "split_loss", slow)
    monkeypatch.setattr(core.engine.session, "EVAL_SHARE", 0.05)
    tr = small_trainer(small_data, steps=10**9)
    s = Session(tr)
    s.resume()
    while tr.elapsed < 7:
        s.step()
    scheduled = [e for e in tr.evals if e[0] > 0]
    assert s.eval_cost >= 0.3 and s.eval_interval == pytest.approx(s.eval_cost / 0.05)
    assert len(scheduled) == 1  # at 2 s, then not before 8 s (at a fixed 2 s: 3 in 7 s)
    # (s.eval_time is wall time: on a loaded machine it exceeds the CPU cost the schedule is made from, so it is
    # not compared with the budget here; the count of evaluations above is what the schedule decides)


def test_a_large_split_is_evaluated_on_a_fixed_sample_between_full_passes(tmp_path, monkeypatch):
    """Words of running text: scheduled evaluations take dev and test on fixed samples (labelled), the best dev is
    the sample's alone, the train split is never in full; at the start and the end dev and test are in full."""
    from conftest import small_trainer

    import core.engine.session
    from core.data import Dataset
    from core.link import protocol as P
    from core.model import split_loss
    from core.tokens import TextOptions

    path = tmp_path / "t.txt"
    path.write_text("".join(f"the {w} sat on a mat .\n" for w in ("cat", "dog", "hen", "fox") * 300))
    data = Dataset.load(path, 3, options=TextOptions("text", "words", 1))
    monkeypatch.setattr(core.engine.session, "LARGE_SPLIT_WORK", 100)  # every split is large
    monkeypatch.setattr(core.engine.session, "LARGE_SAMPLE_MIN", 50)
    monkeypatch.setattr(core.engine.session, "EVAL_INTERVAL", 0.0)  # a scheduled evaluation after every chunk
    events: list = []
    tr = small_trainer(data, steps=300, keep_best=True)
    s = Session(tr, emit=lambda e: events.append(e) if isinstance(e, P.Evaluated) else None)
    rows = core.engine.session.large_sample_rows(len(data.vocab))
    assert rows == 50 < len(data.Y["dev"]) and s.large == {"train": True, "dev": True, "test": True}
    s.evaluate(full=True)
    s.resume()
    while s.step():
        pass
    first, scheduled, last = events[0], [e for e in events[1:-1] if e.held_coverage == "sample"], events[-1]
    assert first.held_coverage == "full"
    assert scheduled and all(e.train_coverage == "sample" for e in events)  # the large train split: never in full
    assert last.held_coverage == "full"
    assert tr.best_dev == min(e.losses["dev"] for e in scheduled)  # the best is of the sampled measure alone
    assert s.kept_losses["dev"] == pytest.approx(split_loss(tr.model, data.X["dev"], data.Y["dev"]))


def test_the_first_evaluation_reads_the_train_sample_and_the_full_split_comes_within_the_budget(small_data,
                                                                                                monkeypatch):
    """Training starts at once: before the first step, train is read on its sample (the `best` ensemble's full
    split took ~5 s); the full pass waits until it fits in EVAL_BUDGET of the training time, its cost estimated
    from the sample's until one is timed. dev and test are always in full."""
    from conftest import small_trainer

    import core.engine.session
    from core.link import protocol as P
    from core.model import split_loss

    monkeypatch.setattr(core.engine.session, "TRAIN_SAMPLE_ROWS", 40)  # the small split is then 2-3 of its samples
    tr = small_trainer(small_data, steps=10**9)
    events: list = []
    s = Session(tr, emit=events.append)
    X, Y = small_data.X["train"], small_data.Y["train"]
    assert len(Y) > 40
    losses = s.first_evaluation()
    first = [e for e in events if isinstance(e, P.Evaluated)]
    assert [e.train_coverage for e in first] == ["sample"]
    assert losses["train"] == split_loss(tr.model, X[:40], Y[:40])
    assert losses["dev"] == split_loss(tr.model, small_data.X["dev"], small_data.Y["dev"])
    assert s.train_full_cost is not None and s.train_full_cost > 0  # estimated: the sample's time, scaled
    s.train_full_cost = 1.0  # a full pass of a second, say: it fits in 5% of 20 s of training, not of 10
    tr.elapsed = 10.0
    assert s.evaluate(full=False, scheduled=True) and events[-1].train_coverage == "sample"
    tr.elapsed = 40.0
    losses = s.evaluate(full=False, scheduled=True)
    assert events[-1].train_coverage == "full" and losses["train"] == split_loss(tr.model, X, Y)


def test_the_first_evaluation_of_large_splits_reads_their_samples(tmp_path, monkeypatch):
    """Words of running text start at once too: before the first step a large dev and test are read on their
    fixed samples, as the scheduled evaluations read them (their full pass took minutes at --preset bengio), and
    that first measure may set the best dev, being the scheduled one."""
    from conftest import small_trainer

    import core.engine.session
    from core.data import Dataset
    from core.link import protocol as P
    from core.model import split_loss
    from core.tokens import TextOptions

    path = tmp_path / "t.txt"
    path.write_text("".join(f"the {w} sat on a mat .\n" for w in ("cat", "dog", "hen", "fox") * 300))
    data = Dataset.load(path, 3, options=TextOptions("text", "words", 1))
    monkeypatch.setattr(core.engine.session, "LARGE_SPLIT_WORK", 100)  # every split is large
    monkeypatch.setattr(core.engine.session, "LARGE_SAMPLE_MIN", 50)
    events: list = []
    tr = small_trainer(data, steps=10)
    s = Session(tr, emit=lambda e: events.append(e) if isinstance(e, P.Evaluated) else None)
    losses = s.first_evaluation()
    assert events[-1].held_coverage == "sample" and events[-1].train_coverage == "sample"
    X, Y = s._samples["dev"]
    assert len(Y) == 50 < len(data.Y["dev"]) and losses["dev"] == split_loss(tr.model, X, Y)
    assert tr.best_dev == losses["dev"]
    s.evaluate(full=True)  # a pause or the end: in full, and not the best's measure
    assert events[-1].held_coverage == "full" and tr.best_dev == losses["dev"]


def test_a_costly_models_first_evaluation_reads_samples_and_the_next_reads_in_full(small_data, monkeypatch):
    """Training starts at once for a costly model too (the `best` ensemble's dev + test in full took 2.7 s before
    its first step): its first evaluation reads each split on a fixed sample spread over it, labelled "first",
    keeps no best dev from it, and the next scheduled evaluation reads dev and test in full."""
    import torch
    from conftest import small_trainer

    import core.engine.session
    from core.link import protocol as P
    from core.model import row_macs, split_loss

    tr = small_trainer(small_data, steps=10**9)
    monkeypatch.setattr(core.engine.session, "FIRST_SPLIT_WORK", 30 * row_macs(tr.model_config))  # 30 rows a split
    events: list = []
    s = Session(tr, emit=lambda e: events.append(e) if isinstance(e, P.Evaluated) else None)
    losses = s.first_evaluation()
    assert events[-1].held_coverage == "first" and events[-1].train_coverage == "sample"
    for split in ("dev", "test"):
        X, Y = small_data.X[split], small_data.Y[split]
        ix = torch.linspace(0, len(Y) - 1, 30).long()  # (30,) spread over the split
        assert len(Y) > 30 and losses[split] == split_loss(tr.model, X[ix], Y[ix])
        assert losses[split] != split_loss(tr.model, X, Y)
    assert tr.best_dev == float("inf") and tr.best_dev_step == -1  # not the measure the best is kept by
    s.resume()
    s.step()
    losses = s.evaluate(full=False, scheduled=True)
    assert events[-1].held_coverage == "full"
    assert losses["dev"] == split_loss(tr.model, small_data.X["dev"], small_data.Y["dev"]) == tr.best_dev


def test_every_preset_but_best_reads_dev_and_test_in_full_at_the_start(names_data):
    """FIRST_SPLIT_WORK is set so that only the `best` ensemble's first evaluation samples dev and test on the
    built-in names: the others' first losses stay the full splits' (and their first steps were under 1.5 s)."""
    from dataclasses import replace

    from core import settings
    from core.config import MLPConfig
    from core.engine.session import first_samples
    from core.model import row_macs

    held = {s: (names_data.X[s], names_data.Y[s]) for s in ("dev", "test")}
    sampled = {}
    for name in settings.PRESETS:
        if name == "bengio":  # words of running text: its large splits have samples of their own
            continue
        mc = replace(MLPConfig(**settings.values_for("model", settings.resolve({"data": "names"}, name))),
                     vocab_size=len(names_data.vocab))
        sampled[name] = sorted(first_samples(mc, held))
    assert sampled.pop("best") == ["dev", "test"] and all(v == [] for v in sampled.values()), sampled
    best = replace(MLPConfig(**settings.values_for("model", settings.resolve({"data": "names"}, "best"))),
                   vocab_size=27)
    assert row_macs(best) == 4 * (12 * 24 * 512) + 2048 * 27  # the members' blocks of W1, not the dense product


def test_an_ensembles_loss_is_the_same_to_the_bit_on_any_number_of_threads(small_data):
    """An ensemble evaluates on the cores its members train on, its chunks' sums added in order: the loss does not
    depend on the threads (the app and `train` may run on different counts)."""
    from core.engine.train import TrainConfig, Trainer
    from core.model import MLPConfig, split_loss

    tr = Trainer(small_data, MLPConfig(n_embd=8, n_hidden=32, members=2), TrainConfig(steps=10))
    X, Y = small_data.X["train"], small_data.Y["train"]
    one = split_loss(tr.model, X, Y, batch=64)
    assert len(Y) > 4 * 64
    assert all(split_loss(tr.model, X, Y, batch=64, threads=n) == one for n in (2, 3, 8))
    assert tr.model.training  # its mode is given back

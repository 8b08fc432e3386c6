"""keep_best and patience across a stop and a continue (core.runs.kept, core.engine.kept): a run stopped part-way and
continued through open_run (the path of `train --resume` and the app's Load) keeps the weights, losses and stopping
step of the run that was never stopped; best.pt is written only when the best changed; evals.jsonl has one line at
the step a run continues from; a folder from before best.pt still continues, keeping its last weights.

The Session is driven 16 steps at a time with a scheduled evaluation after each (EVAL_INTERVAL 0), so both runs
evaluate at the same steps; on SMALL_WORDS at lr 1 the dev loss is best at step 32 and worse after, so keep_best
has earlier weights to keep than the step the run is stopped at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import core.engine.session
from core.config import MLPConfig, TrainConfig
from core.engine.session import Session
from core.engine.train import Trainer
from core.runs.folder import BEST, EVALS, LAST, read_evals
from core.runs.resume import open_run
from core.runs.writer import RunWriter

STOP = 160  # where the stopped run stops: past its best dev loss


@pytest.fixture(autouse=True)
def evaluate_every_chunk(monkeypatch):
    monkeypatch.setattr(core.engine.session, "EVAL_INTERVAL", 0.0)
    monkeypatch.setattr(core.engine.session, "EVAL_SHARE", 0.0)


def trainer(data, members: int = 1, steps: int = 480, schedule: str = "cosine", **kw) -> Trainer:
    train = {"lr": 1.0, "optimizer": "sgd"} if members == 1 else {"lr": 0.03, "optimizer": "adamw", "dropout": 0.1}
    return Trainer(data, MLPConfig(n_embd=4, n_hidden=32, members=members, init="kaiming"),
                   TrainConfig(steps=steps, schedule=schedule, **{"keep_best": True, **train, **kw}))


def drive(session: Session, stop: int | None = None) -> Session:
    """Train 16 steps at a time (a scheduled evaluation after each) until the end, or until step `stop`."""
    tr = session.trainer
    session.resume()
    while session.running and (stop is None or tr.step < stop):
        session.step(tr.step + 16)
    return session


def run(tr: Trainer, folder: Path, stop: int | None = None, resume: bool = False) -> Session:
    """As `mlp-tui train` runs one: evaluated at the start, trained, finished (stopped, or done) and saved."""
    s = Session(tr, RunWriter(folder, tr, resume=resume))
    s.evaluate(full=True)
    drive(s, stop)
    s.finish("stopped")
    return s


def weights(tr: Trainer) -> list[torch.Tensor]:
    return list(tr.model.state_dict().values())


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("members", [1, 2], ids=["plain", "ensemble"])
@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_a_continued_keep_best_run_keeps_what_an_unstopped_one_keeps(small_data, tmp_path, members, how):
    """Stopped (Ctrl+C: its end put the best weights in model.pt, the last in last.pt) or killed after a
    checkpoint (model.pt the last weights, best.pt the best): continued, it ends as the unstopped run, exactly."""
    straight = run(trainer(small_data, members), tmp_path / "straight")
    assert straight.kept == "best" and 0 < straight.trainer.best_dev_step < STOP
    tr = trainer(small_data, members)
    if how == "stopped":
        run(tr, tmp_path / "run", stop=STOP)
        assert (tmp_path / "run" / LAST).exists()
    else:  # a kill -9 just after a checkpoint: no ending, nothing put back
        s = Session(tr, RunWriter(tmp_path / "run", tr))
        s.evaluate(full=True)
        drive(s, STOP)
        s.checkpoint()
        s.writer.abandon()
        assert not (tmp_path / "run" / LAST).exists()
    assert tr.step == STOP and (tmp_path / "run" / BEST).exists()
    opened = open_run(tmp_path / "run")
    assert opened.note == "" and opened.trainer.best_state is not None
    resumed = run(opened.trainer, tmp_path / "run", resume=True)
    assert resumed.kept == "best" and opened.trainer.best_dev_step == straight.trainer.best_dev_step
    assert resumed.kept_losses == straight.kept_losses and resumed.final_losses == straight.final_losses
    assert same(weights(resumed.trainer), weights(straight.trainer))
    assert same(weights(open_run(tmp_path / "run").trainer), weights(open_run(tmp_path / "straight").trainer))


def test_patience_stops_a_continued_run_at_the_unstopped_ones_step(small_data, tmp_path):
    straight = run(trainer(small_data, patience=12), tmp_path / "straight")
    assert straight.status == "done" and STOP < straight.trainer.step < 480  # by patience, after the stop
    run(trainer(small_data, patience=12), tmp_path / "run", stop=STOP)
    opened = open_run(tmp_path / "run")
    assert opened.trainer.stale == (STOP - straight.trainer.best_dev_step) // 16  # the count goes on, not from 0
    resumed = run(opened.trainer, tmp_path / "run", resume=True)
    assert resumed.status == "done" and resumed.message == straight.message == (
        "stopped early: no better dev loss in 12 evaluations")
    assert resumed.trainer.step == straight.trainer.step
    assert same(weights(resumed.trainer), weights(straight.trainer))


def test_evals_has_one_line_at_the_step_a_run_continues_from(small_data, tmp_path):
    """The stopped run's end wrote the last weights' evaluation and keep_best's (two lines at STOP, after the
    scheduled one); continued, the folder has one there, the last weights', and then the steps of the unstopped."""
    run(trainer(small_data), tmp_path / "straight")
    run(trainer(small_data), tmp_path / "run", stop=STOP)
    assert [e["step"] for e in read_evals(tmp_path / "run")].count(STOP) == 3
    before = [e for e in read_evals(tmp_path / "run") if e["step"] == STOP][0]
    run(open_run(tmp_path / "run").trainer, tmp_path / "run", resume=True)
    rows = read_evals(tmp_path / "run")
    assert [e["step"] for e in rows] == [e["step"] for e in read_evals(tmp_path / "straight")]
    assert [e["dev"] for e in rows] == [e["dev"] for e in read_evals(tmp_path / "straight")]
    assert [e for e in rows if e["step"] == STOP] == [before]


def test_best_pt_is_written_only_when_the_best_changed(small_data, tmp_path):
    tr = trainer(small_data)
    s = Session(tr, RunWriter(tmp_path / "run", tr))
    s.evaluate(full=True)
    drive(s, 48)
    s.checkpoint()
    best = tmp_path / "run" / BEST
    first = best.stat()
    assert tr.best_dev_step == 32 and torch.load(best, weights_only=True)["step"] == 32
    drive(s, STOP)  # no better dev loss since step 32
    s.checkpoint()
    assert best.stat().st_ino == first.st_ino and best.stat().st_mtime_ns == first.st_mtime_ns
    s.writer.abandon()
    off = trainer(small_data, keep_best=False)
    run(off, tmp_path / "off", stop=STOP)
    assert off.best_state is not None and not (tmp_path / "off" / BEST).exists()  # kept in memory only


def test_an_ensembles_best_pt_holds_its_members_blocks(small_data, tmp_path):
    tr = trainer(small_data, members=2)
    run(tr, tmp_path / "run", stop=STOP)
    saved = torch.load(tmp_path / "run" / BEST, weights_only=True)["weights"]
    assert saved["W1"].shape == (2, 3, 2, 16)  # (members, block_size, n_embd/members, n_hidden/members)
    assert (tmp_path / "run" / BEST).stat().st_size < (tmp_path / "run" / "model.pt").stat().st_size


def test_a_folder_from_before_best_pt_continues_and_keeps_its_last_weights(small_data, tmp_path):
    """A checkpoint with no record of patience or of the weights kept, and no best.pt: it goes on, says what it
    lacks, and at the end keeps the last weights (the best ones were not saved), with the unstopped run's losses."""
    straight = run(trainer(small_data), tmp_path / "straight")
    tr = trainer(small_data)
    s = Session(tr, RunWriter(tmp_path / "run", tr))
    s.evaluate(full=True)
    drive(s, STOP)
    s.checkpoint()
    s.writer.abandon()
    (tmp_path / "run" / BEST).unlink()
    ckpt = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    del ckpt["session"]
    torch.save(ckpt, tmp_path / "run" / "model.pt")
    opened = open_run(tmp_path / "run")
    assert opened.note.startswith("the weights of its best dev loss (best.pt, step 32) are missing")
    resumed = run(opened.trainer, tmp_path / "run", resume=True)
    assert resumed.kept == "last" and resumed.kept_losses == resumed.final_losses == straight.final_losses
    assert json.loads((tmp_path / "run" / EVALS).read_text().splitlines()[0])["step"] == 0


def test_going_on_after_keep_bests_ending_starts_from_the_last_weights(small_data, tmp_path):
    """In the app, a run that ended keeping its best weights and is given more steps goes on from its last ones,
    as a continued folder does: the same weights as a run of the longer length."""
    straight = trainer(small_data, steps=320, schedule="constant")
    drive(Session(straight))
    tr = trainer(small_data, steps=STOP, schedule="constant")
    s = drive(Session(tr))
    assert s.status == "done" and s.kept == "best" and tr.last_state is not None
    s.apply({"steps": 320})
    drive(s)
    assert tr.step == straight.step == 320 and tr.last_state is not None and straight.last_state is not None
    assert same(tr.last_state, straight.last_state)  # both ended keeping their best; the last weights are one


def test_a_damaged_record_or_a_lost_last_pt_is_said_in_one_line(small_data, tmp_path):
    """A checkpoint whose session record is not a count and a kind of weights is damaged (one line); a run that
    ended keeping its best weights and lost last.pt goes on from the best ones, and says so."""
    from core.errors import MLPTuiError

    run(trainer(small_data), tmp_path / "run", stop=STOP)
    last = weights(open_run(tmp_path / "run").trainer)  # with last.pt: the last weights, model.pt's set aside
    (tmp_path / "run" / LAST).unlink()
    opened = open_run(tmp_path / "run")
    assert opened.note == "its last weights (last.pt) are missing or do not match: it goes on from the best ones, " \
                          "kept at its end"
    assert opened.trainer.best_state is None and not same(weights(opened.trainer), last)  # model.pt's: the best
    ckpt = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    ckpt["session"] = {"stale": -1, "kept": "best"}
    torch.save(ckpt, tmp_path / "run" / "model.pt")
    with pytest.raises(MLPTuiError) as e:
        open_run(tmp_path / "run")
    assert str(e.value) == (f"{tmp_path / 'run' / 'model.pt'}: damaged checkpoint (its session is "
                            f"{{'stale': -1, 'kept': 'best'}})")


def test_the_apps_continue_has_the_best_weights_and_one_point_at_its_step(small_data, tmp_path):
    """The app's Load takes the same path: keep_best's weights back, and the plot's evaluations cut to one at the
    step it goes on from (read after the writer cut the file)."""
    import queue

    from core.link import protocol as P
    from core.link.pump import Pump

    run(trainer(small_data), tmp_path / "run", stop=STOP)
    last = weights(open_run(tmp_path / "run").trainer)  # what `train --resume` goes on from
    out: queue.Queue = queue.Queue()
    pump = Pump(out)
    pump.load(str(tmp_path / "run"))
    msgs = [out.get_nowait() for _ in range(out.qsize())]
    (ready,) = [m for m in msgs if isinstance(m, P.Ready)]
    assert [step for step, _ in ready.run["evals"]].count(STOP) == 1
    assert pump.trainer.best_dev_step == 32 and pump.trainer.best_state is not None
    assert same(weights(pump.trainer), last)  # on from the last weights, not model.pt's best ones
    pump.close_run()

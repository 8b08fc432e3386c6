"""The training process's pump (core.link.transport's worker) in process: a run that never trains leaves no
folder, a failing command does not end it, commands are coalesced and dispatched by type, and a symlinked
run file is never written through."""

from __future__ import annotations

import pytest
from conftest import SMALL_WORDS, write_words
from helpers import copy_run

from core.link import protocol as P


def test_a_run_that_never_trains_leaves_no_folder(tmp_path, small_data):
    import queue

    from core.link.pump import Pump

    w = Pump(queue.Queue())
    w.runs_dir = str(tmp_path / "runs")
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    model = {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}
    for _ in range(3):  # r, y, r, y, r, y on a paused model
        w.reset(str(words), model, {"steps": 10**6}, paused=True)
    w.handle(P.Save())
    w.close_run()
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
    w.reset(str(words), model, {"steps": 10**6})
    w.tick()
    w.close_run()
    assert len(list((tmp_path / "runs").iterdir())) == 1  # one that trained is kept


def test_a_failing_command_does_not_end_the_training_process(tmp_path, monkeypatch):
    import queue

    from core.link.pump import Pump

    out: queue.Queue = queue.Queue()
    w = Pump(out)
    w.runs_dir = str(tmp_path / "runs")
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    w.reset(str(words), {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}, {"steps": 10**6})
    monkeypatch.setattr(w, "lr_find", lambda **_: 1 / 0)
    assert w.handle_safely(P.FindLR()) is True
    msgs = []
    while not out.empty():
        msgs.append(out.get_nowait())
    assert any(isinstance(m, P.Error) and "ZeroDivisionError" in m.message for m in msgs)
    assert w.trainer is not None and not w.active  # paused, waiting for the user; not crashed, not looping
    w.close_run()


def test_a_burst_of_score_requests_is_handled_once():
    from core.link.transport import coalesce

    cmds = [P.ScoreText("a" * i) for i in range(1, 2001)] + [P.Pause()] + [P.View(1)] * 3
    kept = coalesce(cmds)
    assert kept == [P.ScoreText("a" * 2000), P.Pause(), P.View(1)]


def test_messages_are_dispatched_by_type_and_an_unknown_one_raises_in_tests():
    import queue

    from core.link.pump import Pump

    w = Pump(queue.Queue())

    class Bogus:
        pass

    with pytest.raises(TypeError, match="no handler for Bogus"):
        w.handle(Bogus())
    assert w.handle(P.Temperature(0.5)) is True and w.temperature == 0.5


def test_continuing_a_run_never_writes_through_a_symlinked_run_file(trained_run, tmp_path):
    import queue

    from core.link.pump import Pump

    _, src = trained_run
    victim = tmp_path / "victim.txt"
    victim.write_text("IMPORTANT " * 1000)
    run = copy_run(src, tmp_path / "evil")
    (run / "losses.f32").unlink()
    (run / "losses.f32").symlink_to(victim)
    out: queue.Queue = queue.Queue()
    w = Pump(out)
    w.load(str(run))
    msgs = [out.get_nowait() for _ in range(out.qsize())]
    assert any(isinstance(m, P.Error) and "is a link or a pipe" in m.message for m in msgs), msgs
    assert victim.read_text() == "IMPORTANT " * 1000


def test_a_ui_that_stops_reading_does_not_make_the_training_process_grow(tmp_path):
    """A UI blocked on a browser that has gone reads nothing: frames are dropped at the queue's bound, and the
    other events give up once the process is ending (a stop signal, the UI gone), instead of piling up."""
    import queue

    from core.link.pump import OUT_QUEUE_SIZE, Pump

    out: queue.Queue = queue.Queue(OUT_QUEUE_SIZE)
    w = Pump(out)
    w.runs_dir = str(tmp_path / "runs")
    words = write_words(tmp_path / "w.txt", SMALL_WORDS)
    w.reset(str(words), {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "kaiming"}, {"steps": 10**6})
    w.tick()  # a chunk trained, so there is a run to save
    for _ in range(3 * OUT_QUEUE_SIZE):
        w.frame(force=True)
    assert out.qsize() == OUT_QUEUE_SIZE  # full, not grown
    ending = [False, False, True]  # the second wait finds the process ending: the event is given up
    w.give_up = lambda: ending.pop(0)
    w.send(P.Error("nobody reads this"))
    assert ending == [] and out.qsize() == OUT_QUEUE_SIZE
    w.give_up = lambda: True
    w.close_run()  # saves, though its events cannot be sent
    assert list((tmp_path / "runs").glob("*/model.pt"))  # (the transports' queues: tests/functional/test_link.py)


def test_continuing_a_run_evaluates_it_as_a_new_model_is_at_its_first_step(run_copy, monkeypatch):
    """The app's Load reads dev and test by the first evaluation's rule (on samples where that is costly: a
    kjv word model's full pass took minutes before the run showed), not in full; they are full at `e` or a pause."""
    import queue

    import core.engine.session
    from core.link.pump import Pump
    from core.model import row_macs, split_loss
    from core.runs.folder import read_evals

    _, run = run_copy
    before = read_evals(run)
    out: queue.Queue = queue.Queue()
    pump = Pump(out)
    monkeypatch.setattr(core.engine.session, "FIRST_SPLIT_WORK", 0)  # every split costly: samples of one row
    pump.load(str(run))
    tr = pump.trainer
    assert row_macs(tr.model_config) > 0
    (first,) = [m for m in (out.get_nowait() for _ in range(out.qsize())) if isinstance(m, P.Evaluated)]
    assert first.held_coverage == "first" and first.train_coverage == "sample" and first.step == tr.step
    d = tr.data
    assert first.losses["dev"] == split_loss(tr.model, d.X["dev"][:1], d.Y["dev"][:1])  # its first row
    assert read_evals(run) == before  # its line at that step is there from before the stop
    pump.handle(P.EvaluateNow())
    (full,) = [m for m in (out.get_nowait() for _ in range(out.qsize())) if isinstance(m, P.Evaluated)]
    assert full.held_coverage == "full" and full.losses["dev"] == split_loss(tr.model, d.X["dev"], d.Y["dev"])
    pump.close_run()

"""Continuing a run in process (core.runs.resume, the path of the app's Load and `train --resume`): a run killed
before its first checkpoint, how the lists name it, and the writer that starts it afresh in its folder."""

from __future__ import annotations

import json

import pytest
from conftest import small_trainer
from helpers import patch_info

from core.runs.folder import EVALS, METRICS, SAMPLES, RunError, read_info, read_losses
from core.runs.listing import NO_CHECKPOINT, list_runs, never_saved
from core.runs.resume import open_run
from core.runs.writer import RunWriter


@pytest.fixture
def killed(run_copy):
    """The session's run as a kill -9 before its first checkpoint leaves it: run.json says running at step 0, no
    model.pt, and whatever the files got before the kill."""
    _, run = run_copy
    (run / "model.pt").unlink()
    patch_info(run, status="running", step=0)
    return run


def test_a_run_without_its_first_checkpoint_is_listed_with_the_reason(killed):
    (r,) = list_runs(killed.parent)
    assert (r.status, r.reason, r.status_text) == ("interrupted", NO_CHECKPOINT, NO_CHECKPOINT)
    assert never_saved(read_info(killed), killed)


@pytest.mark.parametrize("status", ["done", "stopped", "interrupted", "diverged", "unsaved"])
def test_only_a_run_that_was_going_on_has_that_reason(killed, status):
    """A finished run whose model.pt went missing (deleted, or never written on a full disk) is no such run."""
    patch_info(killed, status=status)
    (r,) = list_runs(killed.parent)
    assert r.reason == "" and r.status_text == status
    assert not never_saved(read_info(killed), killed)


def test_a_run_with_its_checkpoint_has_no_reason(run_copy):
    _, run = run_copy
    patch_info(run, status="running")  # killed after a checkpoint: plain "interrupted"
    (r,) = list_runs(run.parent)
    assert (r.status, r.reason) == ("interrupted", "")


def test_open_run_refuses_it_unless_fresh(killed):
    with pytest.raises(RunError) as e:
        open_run(killed)
    assert str(e.value) == f"{killed}: {NO_CHECKPOINT}: there are no weights to continue"
    opened = open_run(killed, fresh=True)
    tr, info = opened.trainer, read_info(killed)
    assert opened.fresh and opened.checkpoint is None and tr.step == 0
    assert tr.model_config.n_hidden == info["model"]["n_hidden"] and tr.config.to_dict() == info["train"]
    assert len(tr.history) == 0


def test_a_run_whose_weights_went_elsewhere_is_refused_with_where(killed):
    patch_info(killed, status="unsaved", rescued_to="/tmp/mlp-tui-x-step5.pt")
    with pytest.raises(RunError) as e:
        open_run(killed, fresh=True)
    assert str(e.value) == (f"{killed}: the run has no checkpoint (model.pt); its status is unsaved and its weights "
                            f"were saved to /tmp/mlp-tui-x-step5.pt")


def test_open_run_continues_a_checkpoint_with_its_history(run_copy):
    _, run = run_copy
    opened = open_run(run)
    assert not opened.fresh and opened.trainer.step == opened.checkpoint.step == 200
    assert len(opened.trainer.history) == 200 == len(read_losses(run))


def test_a_fresh_writer_rewrites_the_folder(killed):
    (killed / METRICS).write_text("{}")
    old = read_info(killed)
    assert len(read_losses(killed)) == 200 and (killed / EVALS).stat().st_size > 0
    tr = open_run(killed, fresh=True).trainer
    w = RunWriter(killed, tr, resume=True, fresh=True)
    assert w.opened and w.saved_step == -1  # locked at once, nothing of its own saved yet
    assert len(read_losses(killed)) == 0 and (killed / EVALS).read_text() == (killed / SAMPLES).read_text() == ""
    assert not (killed / METRICS).exists()
    info = json.loads((killed / "run.json").read_text())
    assert info["status"] == "running" and info["step"] == 0 and info["model"] == old["model"]
    w.close("stopped")  # even at step 0 the folder stays, now with a checkpoint to continue
    assert (killed / "model.pt").exists() and read_info(killed)["status"] == "stopped"


def test_a_fresh_writer_on_a_new_trainer_logs_one_timeline(tmp_path, small_data):
    tr = small_trainer(small_data, steps=50)
    w = RunWriter(tmp_path / "r", tr)
    w.log_losses([0.5] * 30)
    w.flush()
    w.abandon()
    w2 = RunWriter(tmp_path / "r", small_trainer(small_data, steps=50), resume=True, fresh=True)
    w2.log_losses([0.25] * 10)
    w2.close("stopped")
    assert list(read_losses(tmp_path / "r")) == [0.25] * 10


def test_the_fingerprint_tells_a_changed_file_by_its_lines_or_its_text(small_data, tmp_path):
    from core.runs.resume import check_fingerprint

    now = small_data.fingerprint()
    assert now["lines"] == small_data.lines and len(str(now["sha256"])) == 64
    check_fingerprint(tmp_path, {"fingerprint": now}, small_data)  # the same data: no complaint
    check_fingerprint(tmp_path, {}, small_data)  # a run from before fingerprints: unchecked
    for was, fragment in (({**now, "lines": int(now["lines"]) + 1}, f"{int(now['lines']) + 1:,} lines then, "
                                                                     f"{now['lines']:,} now"),
                          ({**now, "sha256": "0" * 64}, f"{now['lines']:,} lines, but not the same text")):
        with pytest.raises(RunError) as e:
            check_fingerprint(tmp_path, {"fingerprint": was}, small_data)
        assert str(small_data.source) in str(e.value) and fragment in str(e.value) and "\n" not in str(e.value)


def test_a_damaged_fingerprint_in_run_json_is_named(trained_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run[1], run)
    info = json.loads((run / "run.json").read_text())
    assert set(info["fingerprint"]) == {"lines", "sha256"}
    info["fingerprint"] = {"lines": 3, "sha256": "not hex"}
    (run / "run.json").write_text(json.dumps(info))
    with pytest.raises(RunError, match="fingerprint"):
        read_info(run)

"""core.runs.checkpoint: round trip, exact resumption, atomic save, and a CheckpointError for every bad file."""

from __future__ import annotations

import math
import os
import threading

import pytest
import torch
from conftest import SMALL_WORDS, assert_one_line, history_values, small_trainer, write_words
from helpers import checkpoint_with, make_fifo

from core.data import Dataset
from core.errors import CheckpointError
from core.model import split_loss
from core.runs.checkpoint import FORMAT, VERSION, load_checkpoint, resume_trainer, save_checkpoint


@pytest.fixture
def trained(small_data):
    tr = small_trainer(small_data, n_hidden=24, lr=0.2, lr_decay=0.5, decay_at=150, steps=1000)
    tr.run(200)
    tr.evaluate()
    return tr


def test_round_trip(trained, small_data, tmp_path):
    path = save_checkpoint(trained, tmp_path / "run" / "model.pt")  # makes the folder
    assert path == tmp_path / "run" / "model.pt" and path.is_file()
    ck = load_checkpoint(path)
    assert ck.step == 200
    assert ck.best_dev_loss == trained.best_dev and ck.best_dev_step == 200
    assert ck.vocab == small_data.vocab
    assert ck.dataset == str(small_data.source) and ck.split_seed == small_data.seed
    assert ck.model_config == trained.model_config
    assert ck.train_config == trained.config
    assert ck.optimizer["name"] == "sgd" and ck.optimizer["lr_override"] is None
    for (n1, p1), (n2, p2) in zip(trained.model.named_parameters(), ck.model.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    assert ck.model.num_params() == trained.model.num_params()
    # the same split losses, exactly
    original = trained.evaluate()
    for split in ("train", "dev", "test"):
        assert split_loss(ck.model, small_data.X[split], small_data.Y[split]) == original[split]


def test_resumed_trainer_state(trained, small_data, tmp_path):
    trained.set_lr(0.07)
    trained.run(10)
    save_checkpoint(trained, tmp_path / "model.pt")
    tr = resume_trainer(load_checkpoint(tmp_path / "model.pt"), small_data)
    assert tr.step == 210 and tr.lr_override == 0.07 and tr.lr == 0.07
    assert tr.best_dev == trained.best_dev and tr.best_dev_step == trained.best_dev_step
    assert tr.config == trained.config


@pytest.mark.parametrize(
    ("n", "m", "batch_size"),
    [
        (120, 180, 32),  # across the lr decay at 150, inside one pool of batches
        (100, 100, 2048),  # pools of 64 batches: save mid-pool, resume across two pool boundaries
        (64, 70, 2048),  # save exactly at the end of a pool
        (0, 50, 32),  # save before any step
    ],
)
def test_resume_continues_like_an_uninterrupted_run(small_data, tmp_path, n, m, batch_size):
    kw = {"n_hidden": 24, "lr": 0.2, "lr_decay": 0.5, "decay_at": 150, "steps": 10_000, "batch_size": batch_size}
    straight = small_trainer(small_data, **kw)
    straight.run(n + m)
    first = small_trainer(small_data, **kw)
    first.run(n)
    save_checkpoint(first, tmp_path / "model.pt")
    resumed = resume_trainer(load_checkpoint(tmp_path / "model.pt"), small_data)
    assert resumed.step == n
    resumed.run(m)
    assert resumed.step == straight.step == n + m
    assert torch.equal(history_values(resumed), history_values(straight)[n:])
    assert all(torch.equal(p, q) for p, q in zip(resumed.model.parameters(), straight.model.parameters()))


def test_save_is_atomic(trained, tmp_path, monkeypatch):
    folder = tmp_path / "run"
    path = save_checkpoint(trained, folder / "model.pt")
    assert [p.name for p in folder.iterdir()] == ["model.pt"]  # no temp file left
    before = path.read_bytes()
    trained.run(5)
    save_checkpoint(trained, path)  # over an existing file
    assert [p.name for p in folder.iterdir()] == ["model.pt"]
    assert load_checkpoint(path).step == 205

    def broken_save(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    good = path.read_bytes()
    with pytest.raises(OSError):
        save_checkpoint(trained, path)
    assert [p.name for p in folder.iterdir()] == ["model.pt"]  # the temp file was removed
    assert path.read_bytes() == good != before  # the previous checkpoint is intact


# ---------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    path = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert "no such checkpoint file" in assert_one_line(e, str(path))


def test_a_directory(tmp_path):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path)
    assert "is a directory" in assert_one_line(e, str(tmp_path))


@pytest.mark.parametrize(
    "content",
    [b"emma\nolivia\nava\n", b"", b"\x00" * 100, b"PK\x03\x04garbage", b"\x80\x02K\x01."],
    ids=["text", "empty", "zeros", "bad-zip", "plain-pickle-int"],
)
def test_not_a_checkpoint(tmp_path, content):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e, str(path))


@pytest.mark.parametrize("keep", [0.5, 0.99, 0.001])
def test_truncated_checkpoint(trained, tmp_path, keep):
    path = save_checkpoint(trained, tmp_path / "model.pt")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e, str(path))


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_checkpoint_is_reported_as_damaged(trained, tmp_path, keep):
    path = save_checkpoint(trained, tmp_path / "model.pt")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    msg = assert_one_line(e, str(path))
    assert "cannot be read" not in msg
    assert "truncated or damaged" in msg


def test_another_torch_file(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(3)}, "epoch": 3}, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert "not an mlp-tui checkpoint" in assert_one_line(e, str(path))
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert "not an mlp-tui checkpoint" in assert_one_line(e, str(path))


def _rewrite(path, **changes):
    ck = torch.load(path, weights_only=True)
    ck.update(changes)
    torch.save(ck, path)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": VERSION + 1}, "format version"),
        ({"model_config": None}, "damaged checkpoint"),
        ({"model_config": {"vocab_size": 0}}, "damaged checkpoint"),
        ({"train_config": {"lr": -1.0}}, "damaged checkpoint"),
        ({"vocab": ["."]}, "vocabulary does not match"),
        ({"model": {"C": torch.zeros(2, 2)}}, "damaged checkpoint (weights"),
    ],
)
def test_damaged_contents(trained, tmp_path, change, expected):
    path = save_checkpoint(trained, tmp_path / "model.pt")
    _rewrite(path, **change)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert expected in assert_one_line(e, str(path))


def test_format_marker_is_checked(trained, tmp_path):
    path = save_checkpoint(trained, tmp_path / "model.pt")
    assert torch.load(path, weights_only=True)["format"] == FORMAT
    _rewrite(path, format="something-else")
    with pytest.raises(CheckpointError, match="not an mlp-tui checkpoint"):
        load_checkpoint(path)


def test_resume_on_another_vocabulary(trained, tmp_path):
    path = save_checkpoint(trained, tmp_path / "model.pt")
    other_path = write_words(tmp_path / "other.txt", [w + "q" for w in SMALL_WORDS[:30]] + ["xyz"] * 10)
    other = Dataset.load(other_path, 3)
    assert other.vocab != trained.data.vocab
    with pytest.raises(CheckpointError) as e:
        resume_trainer(load_checkpoint(path), other)
    msg = assert_one_line(e, str(other_path))
    assert "vocabulary" in msg and str(trained.data.source) in msg


def test_resume_with_another_block_size(trained, small_data, tmp_path):
    path = save_checkpoint(trained, tmp_path / "model.pt")
    data5 = Dataset.load(small_data.source, 5)
    with pytest.raises(CheckpointError, match="block size 3, the data 5"):
        resume_trainer(load_checkpoint(path), data5)


def test_best_dev_inf_survives_a_round_trip(small_data, tmp_path):
    tr = small_trainer(small_data)  # never evaluated
    ck = load_checkpoint(save_checkpoint(tr, tmp_path / "model.pt"))
    assert ck.best_dev_loss == math.inf and ck.best_dev_step == -1 and ck.step == 0


@pytest.mark.slow
def test_resume_with_dropout_and_adamw_continues_like_an_uninterrupted_run(small_data, tmp_path):
    """The dropout masks' generator is in the checkpoint: a resumed run draws the masks the straight one
    did (it used to start them afresh, and the weights parted by ~0.1), and AdamW's moments come back."""
    kw = {"n_hidden": 24, "optimizer": "adamw", "lr": 3e-3, "dropout": 0.3, "weight_decay": 0.01,
          "steps": 10_000}
    straight = small_trainer(small_data, **kw)
    straight.run(300)
    first = small_trainer(small_data, **kw)
    first.run(120)
    save_checkpoint(first, tmp_path / "model.pt")
    resumed = resume_trainer(load_checkpoint(tmp_path / "model.pt"), small_data)
    resumed.run(180)
    assert resumed.step == straight.step == 300
    assert torch.allclose(history_values(resumed), history_values(straight)[120:], atol=1e-6)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(resumed.model.parameters(),
                                                               straight.model.parameters()))


def test_a_fifo_checkpoint_is_refused_without_blocking(tmp_path):
    fifo = make_fifo(tmp_path / "model.pt")
    result: dict[str, object] = {}

    def load():
        try:
            load_checkpoint(fifo)
        except CheckpointError as e:
            result["error"] = str(e)

    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(1.0)
    blocked = t.is_alive()
    for _ in range(50):  # unblock it: each open() of the FIFO for reading waits for a writer
        if not t.is_alive():
            break
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        t.join(0.1)
    assert not blocked, "load_checkpoint blocked on a FIFO"
    assert "is not a regular file" in str(result.get("error"))


def test_a_generator_position_past_its_pool_is_refused_on_resume(checkpoint, tmp_path, trained_run):
    from core.runs.checkpoint import resume_trainer

    words, _ = trained_run
    path = checkpoint_with(checkpoint, tmp_path / "bad.pt", lambda ck: ck["optimizer"]["rng"].__setitem__("pos", 10**6))
    ck = load_checkpoint(path)
    with pytest.raises(CheckpointError) as e:
        resume_trainer(ck, Dataset.load(words, 3))
    assert_one_line(e, "batch generator state", "past the")


@pytest.mark.parametrize("masks", [torch.zeros(7, dtype=torch.uint8), "abc", torch.zeros(5056)],
                         ids=["short", "string", "float"])
def test_a_damaged_dropout_mask_state_is_refused_by_name(checkpoint, tmp_path, trained_run, masks):
    from core.runs.checkpoint import resume_trainer

    words, _ = trained_run
    path = checkpoint_with(checkpoint, tmp_path / "bad.pt",
                           lambda ck: ck["optimizer"]["rng"].__setitem__("masks", masks))
    with pytest.raises(CheckpointError) as e:
        resume_trainer(load_checkpoint(path), Dataset.load(words, 3))
    assert_one_line(e, "damaged checkpoint (dropout mask generator state:")


def test_the_checkpoint_refuses_exactly_what_the_word_loader_refuses(checkpoint, tmp_path):
    """One rule (core.data.is_refused): a vocabulary character the loader would refuse makes the checkpoint
    damaged, and one it accepts (an accent, a space, the joiners, private use) loads."""
    from core.data import read_words
    from core.errors import DataError
    from unit.test_data import REFUSED

    for char, ok in [(c, False) for c in REFUSED] + [(c, True) for c in ("ë", " ", "\u200c", "\u200d", "\ue000")]:
        words = tmp_path / "w.txt"
        words.write_text(f"emma\nab{char}c\n", encoding="utf-8")
        try:
            read_words(words)
            loads = True
        except DataError:
            loads = False
        assert loads is ok, repr(char)
        path = checkpoint_with(checkpoint, tmp_path / "c.pt", lambda ck, c=char: ck["vocab"].__setitem__(-1, c))
        if ok:
            assert load_checkpoint(path).vocab.itos[-1] == char
        else:
            with pytest.raises(CheckpointError) as e:
                load_checkpoint(path)
            assert_one_line(e, "the vocabulary holds control characters")

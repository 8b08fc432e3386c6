"""Word models in checkpoints and run folders: the vocabulary of words saved and checked, the data settings read
back, and runs made before them (tests/fixtures/old-run-chars, made by the code before issue 22) read as lines of
characters."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line

from core.config import MLPConfig, TrainConfig
from core.data import Dataset
from core.engine.train import Trainer
from core.errors import CheckpointError
from core.model import split_loss
from core.runs.checkpoint import load_checkpoint, resume_trainer, save_checkpoint
from core.runs.folder import read_info
from core.tokens import LINE_END, UNK, TextOptions

OLD_RUN = Path(__file__).parents[1] / "fixtures" / "old-run-chars"
OPTIONS = TextOptions("text", "words", 2, lower=True)


@pytest.fixture
def word_trainer(tmp_path) -> Trainer:
    path = tmp_path / "t.txt"
    path.write_text("The cat sat on the mat.\nThe dog sat on the cat!\nA cat is a cat.\n" * 8, encoding="utf-8")
    data = Dataset.load(path, 3, options=OPTIONS)
    trainer = Trainer(data, MLPConfig(n_embd=4, n_hidden=8, direct=True), TrainConfig(steps=50, optimizer="adamw"))
    trainer.run(50)
    return trainer


def test_a_word_model_is_saved_and_loaded_with_its_vocabulary_and_settings(word_trainer, tmp_path):
    path = save_checkpoint(word_trainer, tmp_path / "model.pt")
    ckpt = load_checkpoint(path)
    assert ckpt.options == OPTIONS
    assert ckpt.vocab == word_trainer.data.vocab and ckpt.vocab.tokens == "words"
    assert ckpt.vocab.itos[:2] == (LINE_END, UNK) and "cat" in ckpt.vocab.itos
    data = Dataset.load(ckpt.dataset, 3, ckpt.split_seed, options=ckpt.options)  # as eval and resume read it
    resumed = resume_trainer(ckpt, data)
    assert split_loss(resumed.model, data.X["dev"], data.Y["dev"]) == \
        split_loss(word_trainer.model, word_trainer.data.X["dev"], word_trainer.data.Y["dev"])


@pytest.mark.parametrize(("vocab", "expected"), [
    (lambda v: [v[1], v[0], *v[2:]], "the vocabulary is not </s>, <unk> and distinct words"),
    (lambda v: [*v[:-1], v[2]], "the vocabulary is not </s>, <unk> and distinct words"),
    (lambda v: [*v[:-1], "two words"], "the vocabulary holds a token the word rule would not make ('two words')"),
    (lambda v: [*v[:-1], "\x1b[2J"], "the vocabulary holds a token the word rule would not make"),
    (lambda v: [*v[:-1], ""], "the vocabulary holds an empty or overlong token"),
    (lambda v: [*v[:-1], "x" * 10_000], "the vocabulary holds an empty or overlong token ('xxxxxxxxxx"),
    (lambda v: [*v[:-1], "\u202e"], "the vocabulary holds control characters"),
    (lambda v: [*v[:-1], 7], "the vocabulary is not </s>, <unk> and distinct words"),
])
def test_a_damaged_vocabulary_of_words_is_refused_by_name(word_trainer, tmp_path, vocab, expected):
    path = save_checkpoint(word_trainer, tmp_path / "model.pt")
    ck = torch.load(path, weights_only=True)
    ck["vocab"] = vocab(ck["vocab"])
    torch.save(ck, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert len(assert_one_line(e, str(path), "damaged checkpoint", expected)) < 300 + len(str(path))  # cut short


@pytest.mark.parametrize("data", [{"format": "prose"}, {"tokens": "bpe"}, {"min_count": 0}, {"lower": "yes"},
                                  {"colour": "red"}, "text"])
def test_damaged_data_settings_are_refused(word_trainer, tmp_path, data):
    path = save_checkpoint(word_trainer, tmp_path / "model.pt")
    ck = torch.load(path, weights_only=True)
    ck["data"] = data
    torch.save(ck, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e, str(path), "damaged checkpoint")


def test_a_character_vocabulary_of_running_text_starts_with_the_line_end(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("a b. c\n" * 10, encoding="utf-8")
    data = Dataset.load(path, 2, options=TextOptions("text", "chars"))
    trainer = Trainer(data, MLPConfig(n_embd=2, n_hidden=4), TrainConfig(steps=1))
    saved = save_checkpoint(trainer, tmp_path / "model.pt")
    assert load_checkpoint(saved).vocab.itos == ("\n", " ", ".", "a", "b", "c")
    ck = torch.load(saved, weights_only=True)
    ck["data"] = {}  # the same characters read as a word list: its boundary is the dot
    torch.save(ck, saved)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(saved)
    assert_one_line(e, "the vocabulary does not start with the boundary token '.'")


def test_an_old_run_loads_as_lines_of_characters(tmp_path):
    run = tmp_path / "old-run"
    shutil.copytree(OLD_RUN, run)
    assert "data" not in torch.load(run / "model.pt", weights_only=True)  # made before the data settings
    assert "data" not in read_info(run)
    ckpt = load_checkpoint(run / "model.pt")
    assert ckpt.options == TextOptions() and ckpt.options.plain and ckpt.vocab.tokens == "chars"
    data = Dataset.load(ckpt.dataset, ckpt.model_config.block_size, ckpt.split_seed, options=ckpt.options)
    assert split_loss(ckpt.model, data.X["dev"], data.Y["dev"]) == pytest.approx(3.38467119803389, abs=1e-6)

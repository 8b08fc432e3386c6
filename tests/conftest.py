"""Shared fixtures: small word lists written into tmp_path, tiny models, the built-in names."""

from __future__ import annotations

from pathlib import Path

import pytest

import core  # noqa: F401  (imported before torch: quiets the CPU wheel's NumPy warning)
from core.data import Dataset
from core.engine.train import TrainConfig, Trainer
from core.model import MLPConfig

# 60 names: enough for non-empty train (48), dev (6) and test (6) splits.
SMALL_WORDS = [
    "emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia", "harper", "evelyn",
    "abigail", "emily", "elizabeth", "mila", "ella", "avery", "sofia", "camila", "aria", "scarlett",
    "victoria", "madison", "luna", "grace", "chloe", "penelope", "layla", "riley", "zoey", "nora",
    "lily", "eleanor", "hannah", "lillian", "addison", "aubrey", "ellie", "stella", "natalie", "zoe",
    "leah", "hazel", "violet", "aurora", "savannah", "audrey", "brooklyn", "bella", "claire", "skylar",
    "liam", "noah", "william", "james", "oliver", "benjamin", "elijah", "lucas", "mason", "logan",
]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    import torch

    # The trainer's small ops are faster and stable on one thread (DESIGN.md); keeps the suite quick on 2 cores.
    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path_factory, monkeypatch):
    """Runs go to a temporary folder, never to the user's data directory; an unknown protocol message raises."""
    monkeypatch.setenv("MLP_TUI_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    monkeypatch.setenv("MLP_TUI_STRICT_PROTOCOL", "1")


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """mlp-tui's main(argv) in-process: (exit status, stdout, stderr)."""
    from tui.cli import main

    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def write_words(path: Path, words: list[str]) -> Path:
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def words_file(tmp_path: Path) -> Path:
    return write_words(tmp_path / "words.txt", SMALL_WORDS)


@pytest.fixture
def small_data(words_file: Path) -> Dataset:
    return Dataset.load(words_file, 3)


@pytest.fixture(scope="session")
def names_data() -> Dataset:
    return Dataset.load("names", 3)


def small_trainer(data: Dataset, **train_kw) -> Trainer:
    """A tiny model (hidden 32) with the given TrainConfig overrides."""
    model_kw = {"n_embd": train_kw.pop("n_embd", 4), "n_hidden": train_kw.pop("n_hidden", 32),
                "init": train_kw.pop("init", "kaiming")}
    capacity = train_kw.pop("history_capacity", 1 << 16)
    cfg = TrainConfig(**{"steps": 100_000, **train_kw})
    return Trainer(data, MLPConfig(**model_kw), cfg, history_capacity=capacity)


def history_values(trainer: Trainer):
    """Per-step log10 losses (the history must still be at stride 1)."""
    assert trainer.history.stride == 1
    return trainer.history.series()[1]


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An app factory for Pilot tests, with the trainer in a thread of this process (tests/apphelpers.py)."""
    from apphelpers import make_harness

    return make_harness(tmp_path, monkeypatch)

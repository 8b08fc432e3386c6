"""Shared fixtures and helpers: small word lists written into tmp_path, tiny models, the built-in names, one trained
run for the whole session, and the one-line error asserts."""

from __future__ import annotations

import shutil
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

    # The trainer's small ops are faster and stable on one thread; keeps the suite quick on 2 cores.
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


def one_line(message: str, *fragments: str) -> str:
    """An error message is one non-empty line that holds every fragment."""
    assert message and "\n" not in message, message
    for f in fragments:
        assert f in message, (f, message)
    return message


def assert_one_line(e: pytest.ExceptionInfo, *fragments: str) -> str:
    """The raised error's message is one line holding every fragment (a path, a setting's name, the problem)."""
    return one_line(str(e.value), *fragments)


def assert_cli_error(code: int, err: str, *fragments: str) -> str:
    """Exit status 2 and exactly one `mlp-tui: error: ...` line on stderr (every command's one form), no traceback,
    holding every fragment."""
    assert code == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    line = err[:-1]
    assert line.startswith("mlp-tui: error: "), line
    return one_line(line, *fragments)


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


TRAINED_STEPS, TRAINED_HIDDEN = 200, 16

# The step budget of a run a test acts on while it trains (a pause, a key, a signal, a live state read): on an idle,
# fast machine a run of the default 200K steps ended before the test's action (twice in CI). 10M steps take over
# 100 s even at 100K steps/s, longer than any such test; and "10,000,000" still keeps the app's status line to one
# row at 80 columns (1,000,000,000 wraps it). A test whose run must finish gives its own, small, steps.
TRAINS_ON = 10**7


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> tuple[Path, Path]:
    """One small `mlp-tui train` run on SMALL_WORDS (TRAINED_STEPS steps, TRAINED_HIDDEN hidden units, every other
    flag at its default), made once for the whole session: (words file, run folder, alone in its runs folder).
    Only for tests that read it; a test that changes the run takes `run_copy`."""
    from tui.cli import main

    base = tmp_path_factory.mktemp("trained")
    words = write_words(base / "words.txt", SMALL_WORDS)
    root = base / "runs"
    assert main(["train", "--data", str(words), "--steps", str(TRAINED_STEPS), "--hidden", str(TRAINED_HIDDEN),
                 "--runs-dir", str(root), "--quiet"]) == 0
    (run,) = root.iterdir()
    return words, run


@pytest.fixture
def run_copy(trained_run, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the session's run (without its lock file), alone in tmp_path/"runs", for a test that changes it:
    (words file, run folder). Its checkpoint still names the session's words file."""
    words, run = trained_run
    copy = tmp_path / "runs" / run.name
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("lock"))
    return words, copy


@pytest.fixture
def checkpoint(trained_run) -> Path:
    """The session run's model.pt (read only: a test that damages it writes a changed copy)."""
    return trained_run[1] / "model.pt"


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

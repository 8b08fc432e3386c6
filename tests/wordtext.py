"""A small running text made by the tests (sentences of tests/planted.py's templates, capitalised, with a full
stop), and a tiny word model trained on it by the project's Trainer: for sampling, prompts and scoring."""

from __future__ import annotations

import random
from pathlib import Path

from planted import CLASSES, TEMPLATES

from core.tokens import TextOptions

WORDS = TextOptions("text", "words", 1, False)


def write_text(path: Path, lines: int = 600, seed: int = 0) -> Path:
    """`lines` sentences, one a line: "Dora saw a green sheep near the garden ." """
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        words = [rng.choice(CLASSES[w.lower()]) if w.lower() != w else w for w in rng.choice(TEMPLATES).split()]
        out.append(" ".join(words).capitalize() + " .")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def word_trainer(path: Path, steps: int = 3000, block_size: int = 3):
    """A Trainer of a tiny word model on the text at `path`, trained `steps` steps (about a second)."""
    from core.config import MLPConfig, TrainConfig
    from core.data import Dataset
    from core.engine.train import Trainer

    data = Dataset.load(path, block_size, options=WORDS)
    tr = Trainer(data, MLPConfig(n_embd=8, n_hidden=48), TrainConfig(steps=steps, lr=0.2, seed=1))
    tr.run(steps)
    return tr

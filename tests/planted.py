"""A corpus with planted word classes, made by the tests: words of a class are interchangeable in every sentence.

Sentences come from templates whose slots name a class; each slot takes a word of its class, drawn with Zipf-like
weights (so some words are frequent, as in text). A model that learns the classes generalises to word sequences
it never saw; a counting model only knows the sequences it saw. Token ids: 0 is the line end `</s>`, then the
template words, then the class words. `planted_model` trains a small MLP on it through the project's Trainer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

CLASSES = {
    "animal": ("cat", "dog", "horse", "cow", "sheep", "goat", "pig", "duck"),
    "food": ("bread", "soup", "rice", "cheese", "apple", "cake", "fish", "meat"),
    "place": ("barn", "field", "garden", "house", "yard", "market", "shed", "road"),
    "colour": ("red", "blue", "green", "black", "white", "brown", "grey", "yellow"),
    "person": ("anna", "ben", "carl", "dora", "emil", "fay", "gus", "hana"),
}
TEMPLATES = (
    "the ANIMAL ate the FOOD in the PLACE",
    "a COLOUR ANIMAL slept in the PLACE",
    "PERSON saw a COLOUR ANIMAL near the PLACE",
    "PERSON cooked FOOD for PERSON",
    "PERSON sold COLOUR FOOD at the PLACE",
    "the PLACE was COLOUR and the ANIMAL was COLOUR",
    "PERSON and PERSON walked to the PLACE with the ANIMAL",
)


@dataclass(frozen=True)
class Planted:
    """A planted corpus: its token streams per split, the vocabulary, and each class's ids."""

    itos: tuple[str, ...]
    splits: dict[str, np.ndarray]  # "train", "dev", "test" -> (n,) int64 ids, sentences ending in id 0
    classes: dict[str, tuple[int, ...]]


def planted_corpus(sentences: int = 3000, seed: int = 0) -> Planted:
    """`sentences` sentences, split 80/10/10 in order."""
    words = sorted({w for t in TEMPLATES for w in t.split() if w.lower() != w})  # slot names are upper case
    fixed = sorted({w for t in TEMPLATES for w in t.split() if w.lower() == w})
    itos = ("</s>", *fixed, *(w for name in CLASSES for w in CLASSES[name]))
    stoi = {w: i for i, w in enumerate(itos)}
    assert {w.lower() for w in words} == set(CLASSES)
    classes = {name: tuple(stoi[w] for w in ws) for name, ws in CLASSES.items()}
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 9) ** 0.7
    weights /= weights.sum()
    out: list[int] = []
    ends = []
    for _ in range(sentences):
        for w in TEMPLATES[rng.integers(len(TEMPLATES))].split():
            out.append(classes[w.lower()][rng.choice(8, p=weights)] if w.lower() != w else stoi[w])
        out.append(0)
        ends.append(len(out))
    stream = np.array(out, dtype=np.int64)
    a, b = ends[int(0.8 * sentences) - 1], ends[int(0.9 * sentences) - 1]
    return Planted(itos=itos, splits={"train": stream[:a], "dev": stream[a:b], "test": stream[b:]}, classes=classes)


def windows(stream: np.ndarray, block: int):
    """(contexts, targets) of every position from `block` on, as torch tensors: (n, block) and (n,)."""
    import torch

    x = np.lib.stride_tricks.sliding_window_view(stream[:-1], block)  # (n, block)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(stream[block:].copy())


@functools.lru_cache(maxsize=1)
def planted_model(block: int = 3, steps: int = 3000):
    """(corpus, a trained MLP) on the planted corpus: the project's Trainer on token ids, one small model (about a
    second). Weight decay pulls the rows of interchangeable words together: without it they keep much of their
    random start (at 0.1, a word's 6 nearest held 1.4 of its class on average; at 0.3, all 6)."""
    from core.config import MLPConfig, TrainConfig
    from core.data import SPLITS, Dataset, Vocab
    from core.engine.train import Trainer

    corpus = planted_corpus()
    X, Y = {}, {}
    for s in SPLITS:
        X[s], Y[s] = windows(corpus.splits[s], block)
    data = Dataset(source="planted", words=[], vocab=Vocab(corpus.itos), block_size=block, seed=0,
                   split_words={s: [] for s in SPLITS}, X=X, Y=Y)
    mcfg = MLPConfig(vocab_size=len(corpus.itos), block_size=block, n_embd=8, n_hidden=64)
    tcfg = TrainConfig(batch_size=64, optimizer="adamw", lr=1e-2, weight_decay=0.3, schedule="cosine", steps=steps,
                       seed=1)
    trainer = Trainer(data, mcfg, tcfg)
    trainer.run()
    trainer.model.eval()
    return corpus, trainer.model

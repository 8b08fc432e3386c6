"""A corpus with planted word classes, made by the tests: words of a class are interchangeable in every sentence.

Sentences come from templates whose slots name a class; each slot takes a word of its class, drawn with Zipf-like
weights (so some words are frequent, as in text). A model that learns the classes generalises to word sequences
it never saw; a counting model only knows the sequences it saw. Token ids: 0 is the line end `</s>`, then the
template words, then the class words. `planted_model` trains a small MLP on it through the project's Trainer.

A second corpus, `planted_pairs`, plants two attributes in one class of nouns, kind and gender (king and queen
share a kind and its verb, king and man share a gender and its pronoun), so that analogies have an answer:
king - man + woman is queen.
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


PAIRS = (("king", "queen", "ruled"), ("man", "woman", "worked"), ("boy", "girl", "played"), ("prince", "princess",
         "rode"), ("father", "mother", "cooked"), ("brother", "sister", "ran"), ("uncle", "aunt", "visited"),
         ("lord", "lady", "hunted"))


def planted_pairs(sentences: int = 4000, seed: int = 0) -> Planted:
    """Sentences "the [old|young] NOUN VERB and PRONOUN smiled|left": the verb follows the noun's kind, the pronoun
    its gender. Classes: "male" and "female" nouns, and "kind:<verb>" for each pair."""
    itos = ("</s>", "the", "and", "he", "she", "smiled", "left", "old", "young", *(w for p in PAIRS for w in p))
    stoi = {w: i for i, w in enumerate(itos)}
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for _ in range(sentences):
        kind, g = PAIRS[rng.integers(len(PAIRS))], int(rng.integers(2))
        adjective = [("old", "young")[rng.integers(2)]] if rng.random() < 0.5 else []
        words = ["the", *adjective, kind[g], kind[2], "and", ("he", "she")[g], ("smiled", "left")[rng.integers(2)]]
        out += [stoi[w] for w in words] + [0]
    stream = np.array(out, dtype=np.int64)
    a, b = int(0.8 * len(stream)), int(0.9 * len(stream))
    classes = {"male": tuple(stoi[p[0]] for p in PAIRS), "female": tuple(stoi[p[1]] for p in PAIRS)}
    classes |= {f"kind:{p[2]}": (stoi[p[0]], stoi[p[1]]) for p in PAIRS}
    return Planted(itos=itos, splits={"train": stream[:a], "dev": stream[a:b], "test": stream[b:]}, classes=classes)


@functools.lru_cache(maxsize=2)
def planted_model(corpus_name: str = "classes", block: int = 3, steps: int = 3000):
    """(corpus, a trained MLP) on the planted corpus: the project's Trainer on token ids, one small model (about a
    second). Weight decay pulls the rows of interchangeable words together: without it they keep much of their
    random start (at 0.1, a word's 6 nearest held 1.4 of its class on average; at 0.3, all 6)."""
    from core.config import MLPConfig, TrainConfig
    from core.data import SPLITS, Dataset, Vocab
    from core.engine.train import Trainer

    corpus = planted_pairs() if corpus_name == "pairs" else planted_corpus()
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

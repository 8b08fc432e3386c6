"""Nearest neighbours and analogies in an embedding table (core.probes.neighbours): the math on tables made by hand,
then a model trained on a corpus with planted word classes."""

from __future__ import annotations

import numpy as np
import pytest

from core.probes.neighbours import analogy, nearest, unit_rows

# Two axes: royalty (x) and gender (y); "thing" is far from both, "zero" has no direction at all.
WORDS = ("king", "queen", "man", "woman", "prince", "thing", "zero")
TABLE = np.array([[3.0, 1.0], [3.0, -1.0], [0.2, 1.0], [0.2, -1.0], [2.0, 0.9], [-1.0, 0.05], [0.0, 0.0]])


def test_nearest_by_cosine_leaves_the_token_out_and_ignores_length():
    """king (3, 1): cosines prince (2, 0.9) 0.995, queen (3, -1) 0.8, man (0.2, 1) 0.44, ... in that order."""
    got = nearest(TABLE, 0, k=3)
    assert [WORDS[i] for i, _ in got] == ["prince", "queen", "man"]
    assert got[1][1] == pytest.approx(8 / 10)  # (9 - 1) / (sqrt(10) sqrt(10))
    assert all(i != 0 for i, _ in nearest(TABLE, 0, k=100))
    assert len(nearest(TABLE, 0, k=100)) == len(WORDS) - 1
    assert dict(nearest(TABLE, 6, k=6)) == {i: 0.0 for i in range(6)}  # a zero row: cosine 0 with all, ties by id
    np.testing.assert_allclose(np.linalg.norm(unit_rows(TABLE)[:6], axis=1), 1.0)


def test_an_analogy_leaves_its_three_words_out():
    """king - man + woman: unit rows (0.949, 0.316) - (0.196, 0.981) + (0.196, -0.981) = (0.949, -1.646): queen."""
    best = analogy(TABLE, 0, 2, 3, k=2)
    assert WORDS[best[0][0]] == "queen"
    assert {0, 2, 3}.isdisjoint(i for i, _ in analogy(TABLE, 0, 2, 3, k=10))
    with pytest.raises(ValueError, match="outside"):
        analogy(TABLE, 0, 2, 7)
    with pytest.raises(ValueError, match="embedding table"):
        nearest(np.zeros(3), 0)


@pytest.mark.slow  # trains a small model (about 1 s, several under load; shared by the planted tests)
def test_planted_classes_land_together():
    """A model trained on the planted corpus: at least 4 of each class word's 6 nearest words are of its class, and
    an analogy across classes answers within the right one (cat - dog + bread: a food, as cat ~ dog)."""
    from planted import planted_model

    corpus, model = planted_model()
    C = model.C.detach().double().numpy()  # (V, n_embd)
    class_of = {i: name for name, ids in corpus.classes.items() for i in ids}
    for i, name in class_of.items():
        same = sum(class_of.get(j) == name for j, _ in nearest(C, i, 6))
        assert same >= 4, (corpus.itos[i], [corpus.itos[j] for j, _ in nearest(C, i, 6)])
    ix = corpus.itos.index
    for a, b, c, cls in (("cat", "dog", "bread", "food"), ("red", "blue", "anna", "person"),
                         ("barn", "field", "goat", "animal")):
        (top, _), = analogy(C, ix(a), ix(b), ix(c), k=1)
        assert class_of.get(top) == cls, (a, b, c, corpus.itos[top])


@pytest.mark.slow  # trains a small model (about 1 s, several under load)
def test_planted_analogies_answer_the_other_pair():
    """Nouns with a kind (its verb) and a gender (its pronoun): for every two kinds, x2 - x1 + y1 gives y2
    (king - man + woman: queen; prince - king + queen: princess), in both genders' direction."""
    from planted import PAIRS, planted_model

    corpus, model = planted_model("pairs")
    C = model.C.detach().double().numpy()  # (V, n_embd)
    ix, right, asked = corpus.itos.index, 0, 0
    for m1, f1, _ in PAIRS:
        for m2, f2, _ in PAIRS:
            if m1 == m2:
                continue
            for a, b, c, want in ((m2, m1, f1, f2), (f2, f1, m1, m2)):  # king - man + woman; queen - woman + man
                (top, _), = analogy(C, ix(a), ix(b), ix(c), k=1)
                right, asked = right + (corpus.itos[top] == want), asked + 1
    assert right >= 0.9 * asked, (right, asked)
    (top, _), = analogy(C, ix("king"), ix("man"), ix("woman"), k=1)
    assert corpus.itos[top] == "queen"

"""A tiny running text for the tests of word models' baselines (ngram, the split pane, eval)."""

from __future__ import annotations


def tiny_text(tmp_path):
    """A small running text: 200 lines of a few words each, some rare (they become <unk> at --min-count 4)."""
    import random

    rng = random.Random(0)
    nouns, verbs = ["cat", "dog", "bird", "fish"], ["sees", "likes", "eats"]
    lines = [" ".join([rng.choice(nouns), rng.choice(verbs), "the", rng.choice(nouns)]) + " ." for _ in range(200)]
    lines[5] += " zebra"  # seen once in train: <unk>
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

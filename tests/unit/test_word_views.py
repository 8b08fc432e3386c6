"""What the views show of a word model: the embedding map's most frequent tokens and their placing, the dataset's
token statistics, and the runs list's perplexity and bits per character."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from rich.cells import cell_len

from core.data import Dataset
from core.model import MLP, MLPConfig
from core.probes.inspection import dataset_stats, embedding_map
from core.probes.textstats import length_bins
from core.runs.listing import best_dev_bpc, perplexity_text
from core.tokens import TextOptions
from tui.views.dataset import render_stats
from tui.views.embeddings_words import DENSITY, place_labels, word_grid

# "the" 6 times, "cat" 4, "sat" 3, "a" 2, "dog" and "x" once in the 8 training lines (then a line each of dev, test)
LINES = ["the cat sat", "the cat", "the cat sat", "the dog", "the cat", "a sat", "the a", "x", "the end", "a cat"]


@pytest.fixture()
def words(tmp_path: Path) -> Dataset:
    path = tmp_path / "t.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return Dataset.load(path, 2, options=TextOptions("text", "words", 1))


def test_a_word_map_shows_the_most_frequent_tokens_of_train_in_order(words):
    model = MLP(MLPConfig(vocab_size=len(words.vocab), block_size=2, n_embd=5, n_hidden=8),
                torch.Generator().manual_seed(0))
    m = embedding_map(model, words.vocab, words.Y["train"], top=4)
    assert m.labels == ["</s>", "the", "cat", "sat"]  # 8 line ends, then by count
    assert m.chars == "" and len(m.points) == 4 and m.vocab_size == len(words.vocab) and m.axes == "pca"
    full = embedding_map(model, words.vocab, words.Y["train"], top=100)
    assert len(full.labels) == len(words.vocab) and full.labels[-1] == "<unk>"  # never seen in train: last


def test_a_character_map_is_unchanged(tmp_path, small_data):
    model = MLP(MLPConfig(vocab_size=len(small_data.vocab), n_embd=3), torch.Generator().manual_seed(0))
    m = embedding_map(model, small_data.vocab, small_data.Y["train"], top=2)
    assert m.chars == "".join(small_data.vocab.itos) and m.labels == [] and len(m.points) == len(small_data.vocab)


def test_labels_never_touch_stay_inside_and_cover_at_most_the_density():
    g = torch.Generator().manual_seed(1)
    pts = [(float(x), float(y)) for x, y in torch.randn(300, 2, generator=g).tolist()]
    widths = [3 + i % 7 for i in range(300)]
    width, height = 80, 20
    starts, _ = place_labels(pts, widths, width, height)
    assert 0 in starts  # the most frequent always finds a place
    rows: dict[int, list[tuple[int, int]]] = {}
    for i, (c, r) in starts.items():
        assert 0 <= c and c + widths[i] <= width and 0 <= r < height
        rows.setdefault(r, []).append((c, c + widths[i]))
    for spans in rows.values():
        spans.sort()
        assert all(b[0] > a[1] for a, b in zip(spans, spans[1:]))  # a blank cell between neighbours
    assert sum(widths[i] for i in starts) <= DENSITY * width * height
    assert 30 < len(starts) < 300  # many, not all


def test_the_word_grid_has_rows_of_exactly_its_width():
    labels = ["the", "cat", "<unk>", "日本語", "a" * 30]
    pts = [(0.0, 0.0), (1.0, 1.0), (-1.0, 0.5), (0.5, -1.0), (1.0, -1.0)]
    text, drawn = word_grid(labels, pts, 40, 6)
    rows = text.plain.split("\n")
    assert len(rows) == 6 and all(cell_len(r) == 40 for r in rows)
    assert drawn == 5 and "日本語" in text.plain and "<unk>" in text.plain and "a" * 13 + "…" in text.plain


def test_token_statistics_of_running_text(words):
    st = dataset_stats(words)
    assert st["kind"] == "tokens" and st["vocab_size"] == len(words.vocab) and st["train_types"] == 6
    assert st["split_lines"] == {"train": 8, "dev": 1, "test": 1}
    assert st["split_tokens"] == {"train": 25, "dev": 3, "test": 3}  # 17 words and 8 line ends in train
    assert st["unk"] == {"train": 0, "dev": 1, "test": 0}  # dev's "end"
    assert st["mean_tokens"] == pytest.approx(17 / 8) and st["longest_tokens"] == 3
    assert st["common"][:3] == [("</s>", pytest.approx(8 / 25)), ("the", pytest.approx(6 / 25)),
                                ("cat", pytest.approx(4 / 25))]
    text = render_stats(st, 80).plain
    assert "running text of words (min count 1)" in text and "6 words seen at least once in train, of its 6" in text
    assert "33.33%" in text  # dev's <unk> rate: 1 of 3 tokens
    assert "most frequent words" in text and "word lengths" not in text


def test_names_keep_their_statistics(small_data):
    st = dataset_stats(small_data)
    assert "kind" not in st and "word lengths" in render_stats(st, 80).plain


def test_length_bins_cover_every_length():
    bins = length_bins([0, 1, 5, 5, 40], bins=4)
    assert bins[0][0] == 0 and bins[-1][1] >= 40 and sum(n for *_, n in bins) == 5 and len(bins) <= 4


def test_the_runs_list_gives_the_best_dev_loss_in_bits_per_character(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"dev_loss": 2.0, "measures": {"dev": {"bpc": 0.5}}}))
    assert best_dev_bpc(tmp_path, 1.5) == pytest.approx(0.375)  # the same split: bpc scales with the loss
    (tmp_path / "metrics.json").write_text(json.dumps({"dev_loss": "2", "measures": {"dev": {"bpc": 0.5}}}))
    assert math.isnan(best_dev_bpc(tmp_path, 1.5))
    assert math.isnan(best_dev_bpc(tmp_path / "none", 1.5))


def test_perplexity_text():
    assert [perplexity_text(v) for v in (7.061, 271.14, 4_088_485.2, math.inf, math.nan)] == \
        ["7.06", "271.1", "4,088,485", "inf", "-"]

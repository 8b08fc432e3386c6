"""Words on running text (issue 22): the word rule, normalisation, the split by position, <unk> counted on the
training split, --lower, contexts across line ends, bits per character, and the refusals, on tiny texts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import assert_one_line

from core import settings
from core.config import TrainConfig
from core.data import Dataset
from core.errors import ConfigError, DataError
from core.measures import bits_per_char, perplexity, split_measures
from core.tokens import LINE_END, UNK, WORD_RE, TextOptions, looks_like_text, normalise

TEXT = TextOptions("text", "words", 1)
TEXT_CHARS = TextOptions("text", "chars")


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_word_rule_splits_words_and_punctuation_and_joins_back():
    line = "  Hello,\tworld!  Don't  cry:  it's 1,000   "
    assert WORD_RE.findall(line) == ["Hello", ",", "world", "!", "Don't", "cry", ":", "it's", "1", ",", "000"]
    n = normalise(line)
    assert n == "Hello , world ! Don't cry : it's 1 , 000"  # one space between tokens, none at the ends
    assert normalise(n) == n  # normalising is done once: a normalised line is its own normal form
    assert normalise("The LORD's") == "The LORD's" and normalise("The LORD's", lower=True) == "the lord's"


def test_running_text_is_split_by_position_and_tokens_read_back(tmp_path):
    lines = [f"line {'ab'[i % 2]} , the cat ." for i in range(20)]
    data = Dataset.load(write(tmp_path / "t.txt", lines), 2, options=TEXT)
    assert data.split_words == {"train": lines[:16], "dev": lines[16:18], "test": lines[18:]}  # 80/10/10, in order
    itos = data.vocab.itos
    assert itos[:2] == (LINE_END, UNK)
    words = [itos[i] for i in data.Y["dev"].tolist()]  # the dev stream: every token, then the line end
    assert words == ["line", "a", ",", "the", "cat", ".", LINE_END, "line", "b", ",", "the", "cat", ".", LINE_END]
    # <unk> aside, the tokens of a line joined by single spaces are the normalised line
    assert data.vocab.decode(data.Y["train"][:6].tolist()) == lines[0]


def test_contexts_slide_across_line_ends(tmp_path):
    data = Dataset.load(write(tmp_path / "t.txt", ["a b", "c d"] * 5), 3, options=TEXT)
    itos = data.vocab.itos
    rows = [([itos[i] for i in x], itos[y]) for x, y in zip(data.X["train"].tolist(), data.Y["train"].tolist())]
    assert rows[:4] == [([LINE_END] * 3, "a"), ([LINE_END, LINE_END, "a"], "b"), ([LINE_END, "a", "b"], LINE_END),
                        (["a", "b", LINE_END], "c")]  # line 2's first context holds line 1's end and words
    assert len(rows) == 8 * 3  # 8 training lines of 2 words and a line end: one stream, no padding inside


def test_unk_is_counted_on_the_training_split_only(tmp_path):
    # "dog", "a" and "rare" are in train once; "late" only in dev and test, 8 times: with min_count 2, all <unk>
    lines = ["the cat sat", "the dog sat", "a rare cat"] + ["the cat sat"] * 13 + ["late late late late"] * 4
    data = Dataset.load(write(tmp_path / "t.txt", lines), 2, options=TextOptions("text", "words", 2))
    assert "rare" not in data.vocab.itos and "late" not in data.vocab.itos and "a" not in data.vocab.itos
    assert data.vocab.itos == (LINE_END, UNK, "cat", "sat", "the")  # most frequent first, ties by code point
    assert data.unk == {"train": 3, "dev": 8, "test": 8}  # "dog", "a rare" in train; every "late" held out
    assert [data.vocab.itos[i] for i in data.Y["dev"][:5].tolist()] == [UNK] * 4 + [LINE_END]
    m = split_measures(data, {"train": 1.0, "dev": 2.0, "test": 2.0})
    assert m["dev"]["unk_rate"] == pytest.approx(8 / 10)
    assert m["train"]["unk_rate"] == pytest.approx(3 / len(data.Y["train"]))


def test_lower_folds_case_before_words_are_counted(tmp_path):
    lines = ["The cat", "the Cat", "THE CAT"] * 4
    plain = Dataset.load(write(tmp_path / "t.txt", lines), 2, options=TEXT)
    lower = Dataset.load(tmp_path / "t.txt", 2, options=TextOptions("text", "words", 1, lower=True))
    assert set(plain.vocab.itos[2:]) == {"The", "the", "THE", "cat", "Cat", "CAT"}
    assert lower.vocab.itos == (LINE_END, UNK, "cat", "the")  # equal counts: code-point order
    assert lower.split_words["train"][0] == "the cat"


def test_a_character_model_and_a_word_model_count_the_same_characters(tmp_path):
    lines = ["In the beginning,  God created\tthe heaven.", "And the earth was without form; and void."] * 10
    path = write(tmp_path / "t.txt", lines)
    chars = Dataset.load(path, 3, options=TEXT_CHARS)
    words = Dataset.load(path, 3, options=TEXT)
    assert chars.chars == words.chars
    normalised = [normalise(line) for line in lines[:16]]
    assert chars.chars["train"] == sum(len(line) + 1 for line in normalised)  # one line end per line
    assert len(chars.Y["train"]) == chars.chars["train"]  # a character model predicts every character it counts
    assert chars.vocab.itos[0] == "\n" and " " in chars.vocab.itos and "." in chars.vocab.itos  # ordinary characters
    # bits per character: the total loss in bits over those characters, so a word model's is comparable
    loss = 2.0
    mw = split_measures(words, {"dev": loss})["dev"]
    assert mw["bpc"] == pytest.approx(loss * len(words.Y["dev"]) / words.chars["dev"] / math.log(2))
    assert mw["perplexity"] == pytest.approx(math.exp(loss))


def test_measures():
    assert perplexity(math.log(27)) == pytest.approx(27) and perplexity(float("nan")) == math.inf
    assert bits_per_char(math.log(2), 10, 5) == pytest.approx(2.0)  # 10 tokens of 1 bit over 5 characters


def test_words_on_a_file_without_spaces_is_one_line(tmp_path, words_file):
    """A word list of one word a line is no text of words; running text of one word a line is (its contexts slide
    across lines); running text whose lines are each one giant token is not."""
    with pytest.raises(DataError) as e:
        Dataset.load(words_file, 3, options=TextOptions("lines", "words", 1))
    assert_one_line(e, str(words_file), "has no spaces", "--tokens chars")
    data = Dataset.load(words_file, 3, options=TEXT)  # one word a line, read as running text: fine
    assert len(data.vocab) == 2 + len(set(data.split_words["train"]))
    giant = write(tmp_path / "giant.txt", ["abcdefghij" * 3 + str(i % 5) for i in range(50)])
    with pytest.raises(DataError) as e:
        Dataset.load(giant, 3, options=TEXT)
    assert_one_line(e, str(giant), "has no spaces and its tokens average 31 characters", "--tokens chars")
    assert Dataset.load(write(tmp_path / "p.txt", ["Yes,no!"] * 20), 3, options=TEXT).vocab.itos[2:] == \
        ("!", ",", "Yes", "no")  # no spaces, but the word rule splits it at punctuation


def test_a_word_too_long_for_a_checkpoint_is_refused_before_training(tmp_path):
    path = write(tmp_path / "t.txt", ["the cat " + "z" * 201 + " sat"] * 10)
    with pytest.raises(DataError) as e:
        Dataset.load(path, 3, options=TEXT)
    assert_one_line(e, str(path), "a word of 201 characters", "seen 8 times", "at most 200", "--tokens chars")
    rare = write(tmp_path / "r.txt", ["the cat sat"] * 9 + ["z" * 201])  # a rare one is <unk>, and harmless
    assert Dataset.load(rare, 3, options=TextOptions("text", "words", 2)).unk["test"] == 1


@pytest.mark.parametrize("options", [TEXT, TEXT_CHARS, TextOptions("lines", "words"), TextOptions("lines", "chars")],
                         ids=["text-words", "text-chars", "lines-words", "lines-chars"])
def test_a_file_of_blank_lines_is_refused_as_a_word_list_is(tmp_path, options):
    path = write(tmp_path / "blank.txt", ["", "   ", "\t", ""] * 5)
    with pytest.raises(DataError) as e:
        Dataset.load(path, 3, options=options)
    assert_one_line(e, str(path), "has no words (it is empty or only blank lines)")
    with pytest.raises(DataError) as e:
        Dataset.load(path, 3)  # the lecture's word list: the message matched
    assert_one_line(e, str(path), "has no words (it is empty or only blank lines)")


def test_a_min_count_that_leaves_only_unk_is_one_line(tmp_path):
    path = write(tmp_path / "t.txt", ["a b c d e f g h"] * 10)
    with pytest.raises(DataError) as e:
        Dataset.load(path, 3, options=TextOptions("text", "words", 9))
    assert_one_line(e, str(path), "--min-count 9", "leaves only <unk>", "(the most frequent, 8)")


def test_dedupe_is_for_word_lists(tmp_path):
    path = write(tmp_path / "t.txt", ["a b c"] * 10)
    with pytest.raises(ConfigError) as e:
        Dataset.load(path, 3, dedupe=True, options=TEXT)
    assert_one_line(e, "--dedupe", "--format text")
    values = settings.resolve({"dedupe": True, "format": "text"})
    assert [m for _, m in settings.broken_rules(values)] == [str(e.value)]  # the same rule in the form and flags
    assert not settings.broken_rules(settings.resolve({"dedupe": True}))


def test_a_word_list_that_looks_like_running_text_is_suggested_text(tmp_path):
    prose = ["it was the best of times and the worst of times for all of them"] * 20
    assert looks_like_text(prose) and not looks_like_text(["emma", "olivia"])
    data = Dataset.load(write(tmp_path / "t.txt", prose), 3)
    assert "--format text" in (data.text_hint() or "")
    from core.probes.inspection import dataset_stats
    from tui.views.dataset import render_stats

    stats = dataset_stats(data)
    assert stats["hint"] == data.text_hint() and data.text_hint() in render_stats(stats, 80).plain  # the view says it
    assert dataset_stats(Dataset.load(tmp_path / "t.txt", 3, options=TEXT))["hint"] is None  # read as text: no hint
    with pytest.raises(DataError) as e:  # a period is the names' boundary: the refusal suggests the format
        Dataset.load(write(tmp_path / "p.txt", [p + "." for p in prose]), 3)
    assert_one_line(e, "contains '.'", "if it is running text, give --format text")


def test_the_file_is_read_as_nfc(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("cafe\u0301 au lait\n" * 10, encoding="utf-8")  # a decomposed é, as some editors write it
    assert Dataset.load(path, 2, options=TEXT).vocab.itos[2:] == ("au", "café", "lait")


def test_lines_of_words_pad_each_line(tmp_path):
    data = Dataset.load(write(tmp_path / "t.txt", ["a b"] * 10), 2, options=TextOptions("lines", "words", 1))
    itos = data.vocab.itos
    rows = [([itos[i] for i in x], itos[y]) for x, y in zip(data.X["train"][:3].tolist(), data.Y["train"][:3].tolist())]
    assert rows == [([LINE_END, LINE_END], "a"), ([LINE_END, "a"], "b"), (["a", "b"], LINE_END)]


def test_lines_and_chars_are_read_as_before(words_file):
    old = Dataset.load(words_file, 3)
    new = Dataset.load(words_file, 3, options=TextOptions())
    for s in ("train", "dev", "test"):
        assert old.X[s].equal(new.X[s]) and old.Y[s].equal(new.Y[s])
    assert old.vocab == new.vocab and split_measures(old, {"dev": 1.0})["dev"] == {"perplexity": math.e}


def test_the_inverse_schedule_is_bengios():
    cfg = TrainConfig(lr=1e-3, schedule="inverse", lr_decay=1e-8)
    assert cfg.lr_at(0) == 1e-3 and cfg.lr_at(10**8) == pytest.approx(5e-4)


def test_the_bengio_preset_and_the_papers_recipe():
    from core.recipe import read_recipe

    v = settings.resolve({}, "bengio")
    assert (v["data"], v["format"], v["tokens"], v["block_size"], v["n_embd"], v["n_hidden"], v["direct"]) == \
        ("kjv", "text", "words", 4, 60, 50, True)
    assert settings.resolve({"data": "x.txt"}, "bengio")["data"] == "x.txt"  # --data wins over the preset
    recipe = read_recipe(Path(__file__).parents[2] / "recipes" / "bengio-paper.toml")
    assert (recipe["optimizer"], recipe["lr"], recipe["schedule"], recipe["lr_decay"], recipe["weight_decay"]) == \
        ("sgd", 1e-3, "inverse", 1e-8, 1e-4)
    assert recipe["data"] == "kjv"  # the built-in name, not a path beside the recipe

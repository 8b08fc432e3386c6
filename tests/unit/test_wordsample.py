"""Text in and out for a model of running text (issue 22): lines sampled from a tiny word model, prompts read by the
model's own rule, a sentence scored token by token, and the samples pane's wrapping of lines of text."""

from __future__ import annotations

import math
import queue

import pytest
import torch
import torch.nn.functional as F
from panetext import SizedSamples
from rich.cells import cell_len
from wordtext import word_trainer, write_text

from core.link import protocol as P
from core.link import viewdata
from core.probes.inspection import ScoreError
from core.probes.linescore import score_line
from core.probes.sample import PANE_LINE_TOKENS, line_start, max_tokens, sample
from core.tokens import UNK, TextOptions, encode_prompt
from tui.cells import wrap_cells


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    return word_trainer(write_text(tmp_path_factory.mktemp("words") / "text.txt"))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_sampled_lines_are_vocabulary_words_ending_at_line_ends(trainer):
    vocab = trainer.data.vocab
    lines = sample(trainer.model, vocab, 200, gen(), max_len=max_tokens(trainer.data.options), running=True)
    ended = [s for s in lines if not s.truncated]
    assert len(ended) >= 190  # a trained model ends its lines (the cap is 100 words)
    assert max_tokens(trainer.data.options) == 100 and max_tokens(trainer.data.options, pane=True) == 40
    assert sum(s.text == "" for s in lines) <= 10  # an empty line: a line end straight after a line end
    for s in lines:
        tokens = s.text.split(" ") if s.text else []
        assert all(t in vocab.stoi for t in tokens), s.text
        assert "</s>" not in tokens and "" not in tokens  # one space between tokens, the line end not inside
    assert sum(s.text.endswith(" .") for s in ended) >= 0.9 * len(ended)  # as the text's lines do
    cut = sample(trainer.model, vocab, 20, gen(), max_len=3, running=True)
    assert all(len(s.text.split(" ")) == 3 for s in cut if s.truncated) and any(s.truncated for s in cut)


def test_a_line_starts_after_a_line_the_model_writes(trainer):
    """The text's very start (all line ends) is in the training data once: a line starts after a line end that
    follows a line, as the text's lines do."""
    ctx = line_start(trainer.model, PANE_LINE_TOKENS["words"])
    assert len(ctx) == 3 and ctx[-1] == 0 and ctx != [0, 0, 0]
    first = {s.text.split(" ")[0] for s in sample(trainer.model, trainer.data.vocab, 100, gen(), max_len=40,
                                                       running=True)}
    starts = {line.split(" ")[0] for line in trainer.data.split_words["train"]}
    assert len(first - starts) <= 1, first - starts  # lines start as the text's do (capitalised)


def test_a_prompt_is_read_by_the_models_rule_and_comes_first(trainer):
    vocab = trainer.data.vocab
    p = encode_prompt("  Anna   saw Zorro,", vocab)
    assert [vocab.itos[i] for i in p.ids] == ["Anna", "saw", UNK, UNK]  # "Zorro" and "," are not in the text
    assert p.unknown == ["Zorro", ","] and "'Zorro', ','" in (p.note() or "")
    assert encode_prompt("Anna saw", vocab).note() is None
    for s in sample(trainer.model, vocab, 30, gen(), max_len=40, prompt=p.ids, running=True):
        assert s.text.startswith("Anna saw <unk> <unk> ") or s.text == "Anna saw <unk> <unk>"
    for s in sample(trainer.model, vocab, 30, gen(), max_len=40, prompt=encode_prompt("Anna saw", vocab).ids,
                    running=True):
        assert s.text.startswith("Anna saw ") and s.text.split(" ")[2] in ("a", "the", "A", "The"), s.text


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_prompt_is_refused_in_one_line(trainer, text):
    with pytest.raises(ValueError) as e:
        encode_prompt(text, trainer.data.vocab)
    assert "\n" not in str(e.value) and "empty" in str(e.value)


def test_a_prompt_of_a_character_model_refuses_characters_it_lacks(trainer):
    from core.data import Vocab

    chars = Vocab(("\n", " ", ".", "a", "b"), "chars")
    assert encode_prompt("ab  a.", chars).ids == [3, 4, 1, 3, 1, 2]  # normalised: "ab a ."
    with pytest.raises(ValueError, match="'z'"):
        encode_prompt("abz", chars)


def test_a_sentence_is_scored_token_by_token_as_the_models_softmax(trainer):
    model, vocab = trainer.model, trainer.data.vocab
    s = score_line(model, vocab, "Anna saw a Zorro sheep")
    assert [p.token for p in s.positions] == ["Anna", "saw", "a", "Zorro", "sheep", "</s>"]
    assert [p.unk for p in s.positions] == [False, False, False, True, False, False]
    ids = [vocab.stoi[t] for t in ("Anna", "saw", "a")] + [1, vocab.stoi["sheep"], 0]
    seq = line_start(model, PANE_LINE_TOKENS["words"]) + ids
    X = torch.tensor([seq[i : i + 3] for i in range(len(ids))])  # (6, 3)
    model.eval()
    with torch.no_grad():
        probs = F.softmax(model(X)[0].double(), 1)  # (6, vocab)
    model.train()
    for r, (p, y) in enumerate(zip(s.positions, ids)):
        assert p.prob == pytest.approx(float(probs[r, y]), rel=1e-5)
        assert p.bits == pytest.approx(-math.log2(float(probs[r, y])), rel=1e-5)
        best = probs[r].topk(3)
        assert [a for a, _ in p.alternatives] == [vocab.itos[j] for j in best.indices.tolist()]
    nll = -sum(math.log(float(probs[r, y])) for r, y in enumerate(ids))
    assert s.nll == pytest.approx(nll, rel=1e-6)
    assert s.perplexity == pytest.approx(math.exp(nll / 6), rel=1e-6)
    assert s.chars == len("Anna saw a Zorro sheep") + 1 and s.unknown == 1
    assert s.bpc == pytest.approx(nll / math.log(2) / s.chars, rel=1e-6)
    with pytest.raises(ScoreError, match="empty"):
        score_line(model, vocab, " ")


def test_the_session_samples_lines_continuing_its_prompt(trainer):
    from core.engine.session import Session

    events: list = []
    session = Session(trainer, emit=events.append)
    made = viewdata.prompt_set(session, "Hana cooked Zorro")
    assert made.shown == "Hana cooked <unk>" and "'Zorro'" in (made.note or "") and made.error is None
    session.sample()
    (ev,) = [e for e in events if isinstance(e, P.Samples)]
    assert ev.prompt == "Hana cooked <unk>" and len(ev.names) == 8
    assert all(line.startswith("Hana cooked <unk>") for line, _ in ev.names)
    assert all(len(ev.names[i][0].split(" ")) == 40 for i in ev.cut)
    assert viewdata.prompt_set(session, "  ").shown == "" and session.prompt == []


def test_a_prompt_on_names_is_refused(small_data):
    from conftest import small_trainer

    from core.engine.session import Session

    session = Session(small_trainer(small_data))
    made = viewdata.prompt_set(session, "em")
    assert made.error and "running text" in made.error and session.prompt == []


def test_the_pump_keeps_the_prompt_for_the_next_model(tmp_path):
    from core.link.pump import Pump

    out: queue.Queue = queue.Queue()
    pump = Pump(out)
    pump.handle(P.Prompt("Anna saw"))  # before there is a model: kept for it
    text = write_text(tmp_path / "t.txt", 200)
    pump.reset(str(text), {"block_size": 3, "n_embd": 4, "n_hidden": 16}, {"steps": 10}, paused=True,
               text=TextOptions("text", "words", 1).to_dict())
    samples = []
    while not out.empty():
        e = out.get_nowait()
        samples += [e] if isinstance(e, P.Samples) else []
    assert samples and samples[-1].prompt == "Anna saw"
    assert all(line.startswith("Anna saw") for line, _ in samples[-1].names)
    pump.close_run()


@pytest.mark.parametrize("width", [1, 5, 18, 40])
def test_wrapping_breaks_at_spaces_within_the_width(width):
    text = "And the LORD said unto Moses , go in unto Pharaoh supercalifragilistic 漢字漢字 e\u0301te"
    rows = [text[a:b] for a, b in wrap_cells(text, width)]
    assert all(0 < cell_len(r) <= max(width, 2) for r in rows), rows  # (a wide character needs 2 cells)
    assert "".join(rows).replace(" ", "") == text.replace(" ", "")  # nothing lost, nothing doubled
    words = text.split(" ")
    for w in words:
        if cell_len(w) <= width:  # a word that fits a row is never cut
            assert any(w in r.split(" ") for r in rows), (w, rows)


@pytest.mark.parametrize("cols", [18, 60])
def test_the_samples_pane_wraps_lines_of_text_to_its_width(cols):
    pane = SizedSamples(cols)
    lines = [("Anna saw a green sheep near the garden .", False), ("The yard was red and the cow was " * 3, True)]
    pane.add(120, lines, "Anna saw", (1,))
    rows = pane.render_text().plain.split("\n")[:-1]
    assert rows[0] == "step 120"
    assert all(cell_len(r) <= cols for r in rows), rows
    body = " ".join(r[2:] for r in rows[1:])
    assert " ".join(body.split()) == " ".join(f"{lines[0][0]} {lines[1][0].strip()} … (seen)".split())
    starts = [r for r in rows[1:] if r.startswith("› ")]
    assert len(starts) == 2 and starts[0].startswith("› Anna saw")

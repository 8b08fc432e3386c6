"""The neighbours view's pieces without the app: the field's grammar, the table, and the training process's answer
(core.link.viewdata.neighbours) against core.probes.neighbours on the model's own table."""

from __future__ import annotations

import queue

import pytest
import torch
from conftest import small_trainer

from core.config import MLPConfig, TrainConfig
from core.engine.train import Trainer
from core.link import protocol as P
from core.link import viewdata
from core.link.pump import Pump
from core.link.transport import coalesce
from core.probes.neighbours import analogy, nearest
from tui.views.neighbours import USAGE, parse_query, render_neighbours, shown


@pytest.mark.parametrize("text, tokens", [
    ("", None), ("   ", None),
    ("a", ("a",)), ("  monday ", ("monday",)),
    ("king - man + woman", ("king", "man", "woman")), ("king man woman", ("king", "man", "woman")),
    ("- - + + c", ("-", "+", "c")),  # the signs are read by position: '-' and '+' can be tokens
    ("' '", (" ",)), ("'\\n'", ("\n",)), ('"a b" - x + y', ("a b", "x", "y")),  # quoted like Python
    ("don't", ("don't",)), ("'", ("'",)), ("''", ("''",)), ("'s - 's + x", ("'s", "'s", "x")),
    ("</s>", ("</s>",)), ("'a'b", ("'a'b",)),
])
def test_the_field_reads_one_token_or_an_analogy(text, tokens):
    assert parse_query(text) == tokens


@pytest.mark.parametrize("text", ["a b", "a - b", "a + b", "a - b + c + d", "a + b - c", "a b c d e"])
def test_other_shapes_get_the_usage(text):
    with pytest.raises(ValueError, match="an analogy: a - b \\+ c"):
        parse_query(text)
    assert "a - b + c" in USAGE


def test_what_is_shown_is_what_the_field_takes_back():
    for token in ("a", " ", "\n", "don't", "monday", "é"):
        assert parse_query(shown(token)) == (token,)
    assert shown("\u0301") == "'◌\u0301'"  # a combining mark alone is drawn on a dotted circle


def test_the_table_keeps_its_columns_with_wide_tokens():
    text = render_neighbours(("a",), [("e", 0.91), ("好", 0.5), ("monday", -0.25)], 27).plain
    lines = text.splitlines()
    assert lines[0] == "nearest to 'a'  cosine similarity of the embeddings, 27 tokens"
    rows = lines[3:]
    assert [r.split()[0] for r in rows] == ["1", "2", "3"]
    from rich.cells import cell_len

    cols = {cell_len(r[: r.index(s)]) for r, s in zip(rows, ("+0.910", "+0.500", "-0.250"))}
    assert len(cols) == 1, rows  # the similarity starts in the same cell on every row
    assert rows[0].count("█") == 14 and "█" not in rows[2]  # 0.91 of 16 cells; a negative cosine has no bar


@pytest.fixture
def trainer(small_data) -> Trainer:
    tr = small_trainer(small_data, n_embd=5)
    tr.run(50)
    return tr


def table(tr: Trainer):
    return tr.model.C.detach().numpy()  # (V, n_embd) float32, as the training process reads it


def test_the_answer_is_the_top_k_of_the_models_table(trainer):
    itos = trainer.data.vocab.itos
    got = viewdata.neighbours(trainer, ("a",), 10)
    assert got.error is None and got.step == trainer.step == 50 and got.vocab_size == len(itos)
    want = nearest(table(trainer), itos.index("a"), 10)
    assert got.found == [(itos[i], s) for i, s in want] and len(got.found) == 10
    got = viewdata.neighbours(trainer, ("a", "e", "o"), 5)
    want = analogy(table(trainer), itos.index("a"), itos.index("e"), itos.index("o"), 5)
    assert got.found == [(itos[i], s) for i, s in want]
    assert viewdata.neighbours(trainer, ("a",), 10_000).found.__len__() == len(itos) - 1  # capped by the vocabulary
    assert len(viewdata.neighbours(trainer, ("a",), 0).found) == 1


def test_a_token_not_in_the_vocabulary_is_one_line(trainer):
    for tokens, bad in ((("Q",), "'Q'"), (("a", "zz", "e"), "'zz'"), (("\n",), "'\\n'")):
        got = viewdata.neighbours(trainer, tokens, 10)
        assert got.found == [] and got.error == (f"{bad} is not in the model's vocabulary "
                                                 f"({len(trainer.data.vocab):,} tokens)")
    assert viewdata.neighbours(trainer, ("a", "b"), 10).error == "give one token, or three for a - b + c"
    assert viewdata.neighbours(None, ("a",), 10).error == "there is no model yet"


def test_an_ensemble_answers_from_its_members_tables_side_by_side(small_data):
    tr = Trainer(small_data, MLPConfig(n_embd=6, n_hidden=16, members=2), TrainConfig(steps=1000))
    tr.run(30)
    C = table(tr)
    assert C.shape == (len(small_data.vocab), 6)
    itos = tr.data.vocab.itos
    assert viewdata.neighbours(tr, ("e",), 10).found == [(itos[i], s) for i, s in nearest(C, itos.index("e"), 10)]


def test_the_pump_answers_without_a_model_and_a_burst_is_answered_once():
    out: queue.Queue = queue.Queue()
    pump = Pump(out)
    assert pump.handle(P.FindNeighbours(("a",)))
    assert out.get_nowait() == P.Neighbours(("a",), error="there is no model yet")
    cmds = [P.FindNeighbours(("a" * i,)) for i in range(1, 50)] + [P.Pause()]
    assert coalesce(cmds) == [P.FindNeighbours(("a" * 49,)), P.Pause()]
    assert P.VIEW_OF[P.Neighbours] == "neighbours"
    payload = P.view_payload(P.Neighbours(("a",), 3, [("b", 0.5)], 27))
    assert payload == {"tokens": ("a",), "step": 3, "found": [("b", 0.5)], "vocab_size": 27, "error": None}


def test_the_live_float32_table_ranks_as_the_commands_float64_copy():
    """The training process reads C in place (float32); `mlp-tui neighbours` reads a float64 copy. Same ranking,
    cosines within float64 rounding, and both as unit rows times a unit vector give them."""
    import numpy as np

    from core.probes.neighbours import unit_rows

    C = torch.randn(500, 12, generator=torch.Generator().manual_seed(3)).numpy()  # (V, d) float32
    C[7] = 0.0  # a zero row: cosine 0 with everything
    for live, copy in ((nearest(C, 4, 20), nearest(C.astype(np.float64), 4, 20)),
                       (analogy(C, 4, 9, 11, 20), analogy(C.astype(np.float64), 4, 9, 11, 20))):
        assert [i for i, _ in live] == [i for i, _ in copy]
        np.testing.assert_allclose([s for _, s in live], [s for _, s in copy], rtol=0, atol=1e-12)
    U = unit_rows(C)
    want = U @ U[4]  # (V,)
    np.testing.assert_allclose([s for _, s in nearest(C, 4, 20)], np.sort(np.delete(want, 4))[::-1][:20], atol=1e-12)
    assert dict(nearest(C, 7, 3)) == {0: 0.0, 1: 0.0, 2: 0.0}


def test_the_top_k_is_the_full_sorts_with_ties_by_id():
    """Only the rows at or above the k-th best are sorted: the same answer as sorting them all (k = V - 1), exact
    ties (a table of few distinct directions) broken by id."""
    import numpy as np

    rng = np.random.default_rng(0)
    C = rng.integers(-2, 3, size=(300, 3)).astype(np.float32)  # (V, d): many rows share a direction
    for token in (0, 5, 17):
        full = nearest(C, token, 299)
        sims = [s for _, s in full]
        assert sims == sorted(sims, reverse=True) and len(set(sims)) < 100  # ties there are
        for k in (1, 10, 50, 298):
            assert nearest(C, token, k) == full[:k]
        tied = [i for i, s in full if s == full[0][1]]
        assert tied == sorted(tied)


def test_an_answer_that_reaches_a_view_before_it_is_mounted_is_ignored():
    """Closed and opened again while the answer to the closed view's question was on its way: the new view, not yet
    mounted, is asked nothing yet, so the answer is another's (it raised AttributeError and crashed the app)."""
    from tui.views.neighbours import NeighboursView

    view = NeighboursView()
    view.show(tokens=("day",), step=1152, found=[("night", 0.5)], vocab_size=5546)
    assert view.tokens is None and view.last is None and view.answered is None

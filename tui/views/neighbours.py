"""Nearest neighbours: the tokens whose embeddings point the same way as a typed token's, and analogies.

"Similar things land near each other": the lesson's promise, read off the rows of the embedding table C
by cosine similarity. The training process computes the answer on the model as it is now
(core.link.viewdata.neighbours, with core.probes.neighbours) and sends back only the top K; the view asks
again about once a second while the model trains, never per step. Tokens are the vocabulary's own strings
(characters for a character model, words for a word model), typed as they are shown: bare, or quoted like
Python ('a', ' ', '\\n') when they hold a space or nothing visible.
"""

from __future__ import annotations

import ast
import re

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Input, Static

from core.link import protocol as P
from tui.cells import pad_cells, truncate_cells, visible
from tui.views import ViewScreen
from tui.views.scoring import prob_bar

K = 10  # neighbours listed
REFRESH = 1.0  # seconds between the view's questions while the model trains (none while it is paused)
DEBOUNCE = 0.12  # seconds of quiet after a keystroke before asking
MAX_QUERY_CHARS = 200  # the field takes no more: three words and two signs
TOKEN_CELLS = 24  # a longer token is cut in the table
BAR = 16  # cells of the similarity bar (its positive part; a negative cosine has none)
USAGE = "type one token, or an analogy: a - b + c (or a b c)"
# one item of the field: a Python string literal ('a b', '\n') standing alone, or a run of anything but spaces
ITEM = re.compile(r"""'(?:[^'\\]|\\.)*'(?=\s|$)|"(?:[^"\\]|\\.)*"(?=\s|$)|\S+""")


def decode(item: str) -> str:
    """An item of the field as a token: a quoted literal's string, else the item as typed (so "don't", "'" and
    "''" stay themselves)."""
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
        try:
            value = ast.literal_eval(item)
        except (ValueError, SyntaxError):
            return item
        if isinstance(value, str) and value:
            return value
    return item


def parse_query(text: str) -> tuple[str, ...] | None:
    """The tokens of the field: one (its neighbours) or three (a - b + c, typed so or as `a b c`); None when it is
    empty. Anything else raises ValueError with USAGE. The signs are matched as typed, so "- - + + c" asks for
    '-' - '+' + 'c'; "a - b" is an analogy not yet typed to its end, not a b c with b '-'."""
    raw = ITEM.findall(text)
    if not raw:
        return None
    if len(raw) == 5 and raw[1] == "-" and raw[3] == "+":
        raw = [raw[0], raw[2], raw[4]]
    elif len(raw) not in (1, 3) or (len(raw) == 3 and raw[1] in ("-", "+")):  # "a - b": an analogy still being typed
        raise ValueError(USAGE)
    return tuple(decode(r) for r in raw)


def shown(token: str) -> str:
    """A token as the view (and `mlp-tui neighbours`) shows it: Python's quoted form, which the field takes
    back, with anything that takes no cells drawn visibly."""
    return "".join(visible(c) for c in repr(token))


def heading(tokens: tuple[str, ...]) -> str:
    if len(tokens) == 3:
        return f"nearest to {shown(tokens[0])} - {shown(tokens[1])} + {shown(tokens[2])}"
    return f"nearest to {shown(tokens[0])}"


def render_neighbours(tokens: tuple[str, ...], found: list, vocab_size: int) -> Text:
    """The table: rank, token, cosine similarity and a bar of it, best first; columns measured in cells."""
    out = Text()
    out.append(heading(tokens), style="bold")
    out.append(f"  cosine similarity of the embeddings, {vocab_size:,} tokens\n\n", style="dim")
    labels = [truncate_cells(shown(t), TOKEN_CELLS) for t, _ in found]
    width = max([len("token"), *(cell_len(label) for label in labels)])
    out.append(f" rank  {pad_cells('token', width)}  cosine\n", style="dim")
    for rank, (label, (_, sim)) in enumerate(zip(labels, found), 1):
        style = "green" if sim >= 0.5 else ("yellow" if sim >= 0.2 else "dim")
        out.append(f" {rank:>4}  {pad_cells(label, width)}  ")
        out.append(f"{sim:+.3f}  {prob_bar(sim, BAR)}\n", style=style)
    if not found:
        out.append(" (the vocabulary has no other token)\n", style="dim")
    return out


class NeighboursView(ViewScreen):
    view_id = "neighbours"
    TITLE = "Nearest neighbours"
    HINT = f"type a token: its {K} nearest by cosine of the embeddings · a - b + c: an analogy · esc: back"

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="a token (e.g. a), or an analogy: a - b + c", id="nb-input",
                    max_length=MAX_QUERY_CHARS)
        with VerticalScroll(id="nb-scroll"):
            yield Static("", id="nb-out")

    def __init__(self) -> None:
        super().__init__()
        # Here, not in on_mount: an answer to the question of a view just closed can reach this one while it is
        # being pushed, before it is mounted (typed fast while a word model's chunk ran: it crashed the app).
        self.tokens: tuple[str, ...] | None = None  # what the field asks for now (None: nothing yet)
        self.last: dict | None = None  # the latest answer shown
        self.asked: tuple | None = None  # (tokens, step) of the latest question
        self.asked_model: object = None  # the app's info of the model it was asked of (a reset makes a new one)
        self.answered: tuple | None = None  # (tokens, step, whether it was an error) of the latest answer
        self.sent = 0  # questions sent
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.set_interval(REFRESH, self.ask)
        self.hint()

    def hint(self, text: str = "") -> None:
        self.set_status("")
        self.query_one("#nb-out", Static).update(Text(text or USAGE + "; quote a token with a space: ' '",
                                                      style="red" if text else "dim"))

    def on_input_changed(self, event: Input.Changed) -> None:
        """Read the field once typing pauses, then ask at once."""
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self.read_field)

    def read_field(self) -> None:
        self._timer = None
        try:
            self.tokens = parse_query(self.query_one(Input).value)
        except ValueError as e:
            self.tokens = None
            self.hint(str(e))
            return
        if self.tokens is None:
            self.hint()
            return
        if self.last is None or self.last["tokens"] != self.tokens:  # until the answer comes
            self.query_one("#nb-out", Static).update(Text("waiting for the model…", style="dim"))
        self.ask(force=True)

    def ask(self, force: bool = False) -> None:
        """Ask the training process, unless the same model was asked the same at this step or has answered it at
        this step or later (a paused model's answer does not change)."""
        app = self.app
        snapshot = getattr(app, "snapshot", None)
        if self.tokens is None or snapshot is None:
            return
        key = (self.tokens, snapshot["step"])
        info = getattr(app, "info", None)
        if not force and info is self.asked_model:
            if key == self.asked:
                return
            tokens, step, error = self.answered or ((), -1, False)
            if tokens == self.tokens and (step >= key[1] or error):  # answered already (a token it lacks: for good)
                return
        self.asked, self.asked_model = key, info
        self.sent += 1
        app.send(P.FindNeighbours(self.tokens, K))

    def show(self, tokens: tuple[str, ...], step: int = 0, found: list | None = None, vocab_size: int = 0,
             error: str | None = None, **_) -> None:
        if tuple(tokens) != self.tokens:
            return  # the answer to an older keystroke
        self.answered = (tuple(tokens), step, bool(error))
        out = self.query_one("#nb-out", Static)
        if error:
            self.last = None
            out.update(Text(error, style="red"))
            self.set_status(f"the model at step {step:,}" if step else "")
            return
        found = [(str(t), float(s)) for t, s in found or []]
        self.last = {"tokens": tuple(tokens), "step": step, "found": found, "vocab_size": vocab_size}
        out.update(render_neighbours(tuple(tokens), found, vocab_size))
        self.set_status(f"the model at step {step:,} · asked again every {REFRESH:g} s while it trains")

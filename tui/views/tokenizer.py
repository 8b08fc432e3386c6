"""The tokenizer view: what the model's tokens are, and a line of the data (or text you type) split into them.

It shows the vocabulary's size and longest tokens, the first merges in order (byte-pair encoding; characters and
words have none), tokens per word and per character on the training split, and a line split into its tokens with
their ids, `<unk>` marked. The training process answers (core.link.viewdata.tokens_split, with
core.probes.tokenview): it holds the tokenizer, whose library the app never imports. The view asks once when it
opens and when the model changes (a reset to another kind of token), and again as the field is typed in.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Input, Static

from core.link import protocol as P
from core.probes.tokenview import MAX_TEXT_CHARS, NOT_IN_VOCAB, shown_token
from tui.cells import truncate_cells
from tui.views import ViewScreen

DEBOUNCE = 0.15  # seconds of quiet after a keystroke before asking
CHECK = 0.5  # seconds between looks at whether the model changed (then the view asks again)
KINDS = {"chars": "characters", "words": "words and punctuation", "bpe": "byte-pair tokens"}
STYLES = ("bold cyan", "bold magenta")  # neighbouring tokens alternate, so their borders show


def fit(items: list[str], width: int, sep: str = "  ") -> str:
    """As many items as fit in `width` cells, then "…" if some are left out."""
    out = ""
    for n, item in enumerate(items):
        more = (sep if out else "") + item
        if cell_len(out + more) > width - (2 if n < len(items) - 1 else 0):
            return out + (" …" if out else truncate_cells(item, width))
        out += more
    return out


def describe(s: dict, width: int = 78) -> Text:
    """The summary: kind and size, tokens per word and per character, longest tokens (one row), first merges."""
    out = Text()
    kind = s.get("kind", "")
    out.append(f"{KINDS.get(kind, kind)}{' (lowered)' if s.get('lower') else ''}", style="bold")
    out.append(f" of {'running text' if s.get('format') == 'text' else 'a word list'}: {s.get('size', 0):,} tokens")
    if s.get("min_count") is not None:
        out.append(f" · <unk>: seen < {s['min_count']} times", style="dim")
    out.append("\n")
    if s.get("tokens_per_word") is not None:
        per_char = s.get("tokens_per_char")
        out.append("training split: ", style="dim")
        out.append(f"{s['tokens_per_word']:.3f} tokens per word")
        if per_char:
            out.append(f" · {per_char:.3f} tokens per character ({1 / per_char:.2f} characters per token)")
        if s.get("unk"):
            out.append(f" · <unk> {s['unk'] / max(1, s.get('train_tokens', 1)):.2%}", style="yellow")
        out.append("\n")
    if kind == "chars":
        out.append("every token is one character\n", style="dim")
    else:
        out.append("longest: ", style="dim")
        out.append(fit([shown_token(t) for t in s.get("longest", [])], width - 9) + "\n")
    out.append("first merges: ", style="dim")
    merges = s.get("merges") or []
    if merges:
        out.append(fit([f"{shown_token(a)}+{shown_token(b)}" for a, b in merges], width - 14) + "\n")
    else:
        out.append("none (only byte-pair encoding merges tokens)\n", style="dim")
    return out


def render_split(line: str, tokens: list, width: int) -> Text:
    """The line as the model reads it, then its tokens over their ids in aligned columns, wrapped to `width`
    cells; neighbouring tokens in alternating colours, <unk> (or a character never seen) in red with a `*`."""
    out = Text()
    out.append("line: ", style="dim")
    out.append(truncate_cells(line, max(10, 2 * width - 6)) + "\n")
    unknown = sum(1 for _, _, u in tokens if u)
    out.append(f"{len(tokens):,} tokens, {len(line):,} characters", style="dim")
    out.append(f" · * {unknown} not in the vocabulary\n" if unknown else "\n", style="yellow" if unknown else "dim")
    top, bottom, used = Text(), Text(), 0
    for n, (token, ix, unk) in enumerate(tokens):
        shown = shown_token(str(token)) + ("*" if unk else "")
        ident = str(ix) if ix != NOT_IN_VOCAB else "?"
        w = max(cell_len(shown), len(ident))
        if used and used + 1 + w > width:
            out.append_text(top)
            out.append("\n")
            out.append_text(bottom)
            out.append("\n")
            top, bottom, used = Text(), Text(), 0
        if used:
            top.append(" ")
            bottom.append(" ")
            used += 1
        top.append(shown + " " * (w - cell_len(shown)), style="bold red" if unk else STYLES[n % 2])
        bottom.append(ident + " " * (w - len(ident)), style="dim")
        used += w
    if used:
        out.append_text(top)
        out.append("\n")
        out.append_text(bottom)
    return out


class TokenizerView(ViewScreen):
    view_id = "tokenizer"
    TITLE = "Tokenizer"
    HINT = "the model's tokens · type text to split it (empty: a line of the data) · esc: back"

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="text to split into tokens (empty: a line of the training split)", id="tk-input",
                    max_length=MAX_TEXT_CHARS)
        with VerticalScroll(id="tk-scroll"):
            yield Static(Text("asking the training process…", style="dim"), id="tk-split")
            yield Static("", id="tk-summary")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.summary: dict | None = None  # the latest summary (None: not yet)
        self.split: dict | None = None  # the latest split: text, line, tokens
        self.asked_model: object = ()  # the app's info of the model asked about (a reset makes a new one)
        self._timer: Timer | None = None
        self.sent = 0
        self.set_interval(CHECK, self.check_model)
        self.check_model()

    def check_model(self) -> None:
        """Ask again, summary and all, when the model is not the one asked about (a reset, a load)."""
        info = getattr(self.app, "info", None)
        if info is not self.asked_model:
            self.asked_model = info
            self.ask(summary=True)

    def ask(self, summary: bool = False) -> None:
        self.sent += 1
        self.app.send(P.SplitTokens(self.query_one(Input).value, summary or self.summary is None))

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self.ask)

    def show(self, text: str = "", line: str = "", tokens: list | None = None, summary: dict | None = None,
             error: str | None = None, **_) -> None:
        if error:
            self.query_one("#tk-split", Static).update(Text(error, style="red"))
            return
        if summary is not None:
            self.summary = summary
        if text == self.query_one(Input).value:  # else the answer to an older keystroke (its summary is kept)
            self.split = {"text": text, "line": line,
                          "tokens": [(str(t), int(i), bool(u)) for t, i, u in tokens or []]}
            self.set_status("typed text" if text.strip() else "a line of the training split; type to split your own")
        self.draw_split()

    def draw_split(self) -> None:
        """The split, then the summary under it (the split is what the field changes: it stays in sight)."""
        width = max(20, self.size.width - 4)  # inside the border and its padding
        if self.split is not None:
            self.query_one("#tk-split", Static).update(render_split(self.split["line"], self.split["tokens"], width))
        if self.summary is not None:
            summary = describe(self.summary, width)
            self.query_one("#tk-summary", Static).update(Text("\n").append_text(summary))

    def on_resize(self) -> None:
        self.draw_split()

"""Freshly sampled names, newest batch at the top, each marked new or already in the training set; for a model of
running text, lines of text wrapped to the pane, and a prompt field whose text the next samples continue."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from core.link import protocol as P
from tui.cells import pad_cells, truncate_cells, wrap_cells

MAX_BATCHES = 12
WAITING = "[dim]waiting for the model…[/]"
MARK = "› "  # the first row of a line of text; its other rows are indented as deep


PLACEHOLDERS = ("prompt (p): the samples go on from it", "prompt (p): text to go on", "prompt (p)")


class SamplesPane(Vertical):
    BORDER_TITLE = "Samples"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.batches: deque[tuple[int, list[tuple[str, bool]]]] = deque(maxlen=MAX_BATCHES)
        self.extras: deque[tuple[str, tuple]] = deque(maxlen=MAX_BATCHES)  # each batch's (prompt, cut lines)
        self.text_mode = False  # lines of running text (wrapped, and the prompt field) rather than names

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDERS[0], id="prompt", compact=True, max_length=P.MAX_PROMPT_CHARS)
        yield Static(WAITING, id="samples-text")

    def set_text_mode(self, text: bool) -> None:
        """Running text or names (the model's data): the prompt field is shown for running text only."""
        self.text_mode = text
        self.set_class(text, "-text")
        self.redraw()

    def add(self, step: int, names: list[tuple[str, bool]], prompt: str = "", cut: tuple = ()) -> None:
        self.batches.appendleft((step, names))
        self.extras.appendleft((prompt, tuple(cut)))
        self.redraw()

    def clear(self) -> None:
        self.batches.clear()
        self.extras.clear()
        self._show(WAITING)

    def redraw(self) -> None:
        if self.batches:
            self._show(self.render_text() if self.text_mode else self.render_batches())

    def _show(self, content: Text | str) -> None:
        if self.is_mounted:
            self.query_one("#samples-text", Static).update(content)

    def render_batches(self) -> Text:
        """The batches, names padded and cut by display cells so the new/seen column lines up for wide names."""
        inner = max(12, self.size.width - 2) if self.size.width else 40
        wide = inner >= 40
        width = min(24, inner - (17 if wide else 6))
        out = Text()
        for i, (step, names) in enumerate(self.batches):
            out.append(f"step {step:,}\n", style="bold" if i == 0 else "dim bold")
            for name, in_train in names:
                shown = pad_cells(truncate_cells(name, width), width)  # in cells: the marks line up
                style = ("" if in_train else "green") if i == 0 else "dim"
                out.append(f" {shown}", style=style)
                mark = ("in training set" if wide else "seen") if in_train else "new"
                out.append(f" {mark}\n", style="dim")
        return out

    def render_text(self) -> Text:
        """Lines of running text, each wrapped to the pane's width at spaces, its rows after the first indented;
        the prompt's part in bold, a line cut at the length cap ending in '…', one seen in training marked."""
        width = max(8, self.size.width or 40)
        out = Text()
        for i, ((step, lines), (prompt, cut)) in enumerate(zip(self.batches, self.extras)):
            out.append(f"step {step:,}\n", style="bold" if i == 0 else "dim bold")
            for k, (line, in_train) in enumerate(lines):
                text = line + (" …" if k in cut else "") + (" (seen)" if in_train else "")
                for r, (a, b) in enumerate(wrap_cells(text, width - len(MARK))):
                    out.append(MARK if r == 0 else " " * len(MARK), style="dim")
                    bold = max(a, min(b, len(prompt) if line.startswith(prompt) else 0))
                    out.append(text[a:bold], style="bold" if i == 0 else "dim bold")
                    out.append(text[bold:b] + "\n", style="" if i == 0 else "dim")
        return out

    def on_resize(self) -> None:
        field = self.query_one("#prompt", Input)  # the longest hint that fits whole (80x24 cut the first to "the")
        field.placeholder = next((h for h in PLACEHOLDERS if len(h) < self.size.width - 1), PLACEHOLDERS[-1])
        self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """The prompt's text to the training process: the next samples continue it ("" clears it)."""
        event.stop()
        self.app.send(P.Prompt(event.value))
        self.app.action_leave_field()  # the keys (space, s, q) work again at once

    @property
    def names(self) -> list[str]:
        return [n for _, batch in self.batches for n, _ in batch]

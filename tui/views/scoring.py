"""Name scoring: how likely the model finds each next character of a word you type, and completions; for a model
of running text, a sentence scored token by token (probability, surprise in bits, the likeliest alternatives,
`<unk>` marked), its perplexity and bits per character, and lines the model goes on with.

The probabilities come from the model as it is now in the training process (evaluation mode); the
completions are names sampled with the typed text as their start.
"""

from __future__ import annotations

import math

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Input, Static

from core.link import protocol as P
from tui.cells import pad_cells, truncate_cells, visible
from tui.views import ViewScreen

BAR = 12  # cells of the probability bar
MAX_CHARS = P.MAX_SCORE_CHARS  # the field takes no more (the training process refuses longer text, too)
DEBOUNCE = 0.12  # seconds of quiet after a keystroke before the score is asked for


def prob_bar(p: float, width: int = BAR) -> str:
    """A bar of eighth-blocks for a probability in [0, 1]."""
    eighths = round(max(0.0, min(1.0, p)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width)


def render_score(text: str, positions: list, nll: float, mean_nll: float, completions: list,
                 in_train: bool, compact: bool = False) -> Text:
    """The score table, its columns measured in display cells so wide or combining characters keep them aligned."""
    out = Text()
    where = "in the training set" if in_train else "not in the training set"
    out.append(f"{text!r}: ", style="bold")
    out.append(f"NLL {nll:.3f} nats over {len(positions)} characters ({mean_nll:.3f} per character) · {where}\n\n")
    out.append(" context  next  p(next)  " + ("" if compact else " " * (BAR + 1)) + "most likely next\n",
               style="dim")
    for context, char, prob, alts in positions:
        shown = "end" if char == "." else visible(char)
        style = "green" if prob >= 0.1 else ("yellow" if prob >= 0.02 else "red")
        ctx = pad_cells(truncate_cells(context, 7, ellipsis="", keep="end"), 7, "right")  # its end matters
        out.append(f" {ctx}  {pad_cells(shown, 4)} ")
        out.append(f"{prob:7.4f}  ", style=style)
        if not compact:
            out.append(prob_bar(prob) + " ", style=style)
        out.append("  ".join(f"{'end' if c == '.' else visible(c)} {p:.2f}" for c, p in alts) + "\n", style="dim")
    if completions:
        out.append(f"\nnames starting with {text!r}: ", style="bold")
        out.append(", ".join(name + ("*" if seen else "") for name, seen in completions))
        out.append("   (* in the training set)\n", style="dim")  # as `mlp-tui sample --mark` marks them
    return out


TOKEN = 14  # cells of the token column of a sentence


def render_line_score(text: str, positions: list, perplexity: float, bpc: float, unknown: int, completions: list,
                      in_train: bool, compact: bool = False) -> Text:
    """A sentence's score table: one row per token and the line end, `<unk>` marked in reverse red."""
    out = Text()
    out.append(f"{text!r}: ", style="bold")
    lower = f" (a lower bound: {unknown} <unk>)" if unknown else ""
    where = "a line of the training split" if in_train else "not a line of the training split"
    ppl = f"{perplexity:,.2f}" if perplexity < 1e4 else f"{perplexity:,.0f}"
    out.append(f"{len(positions) - 1} tokens and the line end · perplexity {ppl} · {bpc:.3f} bits per "
               f"character{lower} · {where}\n\n")
    out.append(f" {pad_cells('token', TOKEN)}  p(token)   bits  " + ("" if compact else " " * (BAR + 1))
               + "likeliest instead\n", style="dim")
    for r, (token, prob, alts, unk) in enumerate(positions):
        end = r == len(positions) - 1
        shown = "end" if end else visible(token) if len(token) == 1 else token
        style = "green" if prob >= 0.1 else ("yellow" if prob >= 0.01 else "red")
        out.append(" ")
        if unk:
            name = truncate_cells(shown, TOKEN - 6)
            out.append(name, style="bold")
            out.append(" <unk>", style="reverse red")
            out.append(" " * (TOKEN - cell_len(name) - 6))
        else:
            out.append(pad_cells(truncate_cells(shown, TOKEN), TOKEN))
        bits = -math.log2(prob) if prob > 0 else math.inf
        out.append(f"  {prob:8.4f} {bits:6.2f}  ", style=style)
        if not compact:
            out.append(prob_bar(prob) + " ", style=style)
        out.append("  ".join(f"{_token(c)} {p:.2f}" for c, p in alts) + "\n", style="dim")
    if completions:
        out.append("\nthe model goes on:\n", style="bold")
        for line, _ in completions:
            out.append(f" {line}\n")
    return out


def _token(token: str) -> str:
    """An alternative as the table shows it: the line end as 'end'."""
    return "end" if token in ("</s>", "\n") else visible(token) if len(token) == 1 else token


class ScoringView(ViewScreen):
    view_id = "score"
    TITLE = "Score a name"
    HINT = "type a word: each next character's probability, NLL, completions · esc: back"

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="type a name, e.g. kaleigh", id="score-input", max_length=MAX_CHARS)
        with VerticalScroll(id="score-scroll"):
            yield Static("", id="score-out")

    def on_mount(self) -> None:
        self.text_mode = False
        self.set_text_mode(((getattr(self.app, "info", None) or {}).get("text") or {}).get("format") == "text")
        self.query_one(Input).focus()
        self.last: dict | None = None
        self._timer: Timer | None = None
        self.sent = 0  # score requests sent (a paste of 2,000 characters is one, not 2,000)

    def set_text_mode(self, text: bool) -> None:
        """A model of running text scores sentences (a longer field, another title); names, names."""
        if text and not self.text_mode:
            self.query_one(".view-title", Static).update(
                "[b]Score a sentence[/]  [dim]type a sentence: each token's probability and surprise, the likeliest "
                "alternatives, perplexity, bits per character · esc: back[/]")
            field = self.query_one(Input)
            field.max_length = P.MAX_SENTENCE_CHARS
            field.placeholder = "type a sentence, e.g. And God said, Let there be light"
        self.text_mode = text

    def on_input_changed(self, event: Input.Changed) -> None:
        """Ask for a score once typing pauses: only the latest text matters (the training process coalesces too)."""
        if self._timer is not None:
            self._timer.stop()
        if event.value.strip():
            self._timer = self.set_timer(DEBOUNCE, self._ask)
        else:
            self._timer = None
            self.query_one("#score-out", Static).update("")

    def _ask(self) -> None:
        self._timer = None
        text = self.query_one(Input).value.strip()
        if text:
            self.sent += 1
            self.app.send(P.ScoreText(text))

    def show(self, text: str, error: str | None = None, **payload) -> None:
        if text != self.query_one(Input).value.strip():
            return  # an answer to an older keystroke
        out = self.query_one("#score-out", Static)
        if error:
            out.update(Text(f"{text!r}: {error}", style="red"))
            return
        self.last = {"text": text, **payload}
        compact = self.size.width < 90
        if payload.get("kind") == "text":
            self.set_text_mode(True)
            out.update(render_line_score(text, payload["positions"], payload["perplexity"], payload["bpc"],
                                         payload["unknown"], payload["completions"], payload["in_train"], compact))
            self.set_status(f"the model at step {payload['step']:,}")
            return
        out.update(render_score(text, payload["positions"], payload["nll"], payload["mean_nll"],
                                payload["completions"], payload["in_train"], compact))
        self.set_status(f"the model at step {payload['step']:,}")

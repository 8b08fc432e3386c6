"""The app's keys, written once: the app's BINDINGS, the command palette's entries and the help screen's
key list are all made from KEYS, so that a key added here shows in all three."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding

from core.milestones import MILESTONES
from core.runs.folder import CHECKPOINT_EVERY
from tui.panes.plot import LAST_N


@dataclass(frozen=True)
class Key:
    """One key of the main screen."""

    key: str  # Textual's name of the key ("space", "ctrl+s", "question_mark")
    action: str  # the app's action it runs ("view('runs')" runs action_view("runs"))
    footer: str  # its short label in the footer
    help: str  # its line in the help screen
    palette: str | None = None  # its title in the command palette; None: not there
    show: bool = True  # shown in the footer
    priority: bool = False  # a Textual priority binding (it works even inside a field)
    bound: bool = True  # False: Textual binds it itself (the palette's key); listed in the help only

    @property
    def label(self) -> str:
        """The key as a person reads it ("?" for question_mark)."""
        return {"question_mark": "?"}.get(self.key, self.key)


MILESTONE_TEXT = ", ".join(f"{m.dev:.2f} {m.what}" for m in MILESTONES)

KEYS: tuple[Key, ...] = (
    Key("space", "toggle_pause", "pause/resume", "pause / resume training", "Pause / resume training"),
    Key("r", "reset", "reset", "reset: a fresh model with the controls' values",
        "Reset: fresh model with the controls' values"),
    Key("s", "sample_now", "sample", "sample a batch of names now", "Sample names now"),
    Key("p", "focus_prompt", "prompt", "samples: type a prompt (running text), enter: the next samples continue it; "
        "empty clears it", "Samples: type a prompt for the next samples to continue", show=False),
    Key("e", "evaluate_now", "evaluate", "evaluate all three splits now", "Evaluate all splits now"),
    Key("m", "toggle_smoothing", "smooth", "plot: toggle EMA smoothing", "Plot: toggle smoothing", show=False),
    Key("w", "toggle_window", "window", f"plot: all steps / last {LAST_N:,} steps",
        f"Plot: all steps / last {LAST_N:,} steps", show=False),
    Key("b", "toggle_milestones", "milestones",
        f"plot: the course's dev losses on the names as guides, on / off ({MILESTONE_TEXT})",
        "Plot: the course's milestones on / off", show=False),
    Key("v", "view('embeddings')", "embeddings",
        "view: embedding map (tokens where their vectors are; words: the most frequent)",
        "View: embedding map"),
    Key("f", "view('lr_find')", "lr finder", "view: learning-rate finder (a applies its suggestion)",
        "View: learning-rate finder"),
    Key("n", "view('score')", "score", "view: score a name, complete a prefix",
        "View: score a name, complete a prefix"),
    Key("k", "view('neighbours')", "neighbours", "view: a token's nearest neighbours by cosine of the embeddings, "
        "and analogies a - b + c", "View: nearest neighbours of a token, analogies"),
    Key("z", "view('tokenizer')", "tokenizer", "view: the tokenizer (vocabulary size, longest tokens, first merges, "
        "tokens per word and per character, a line split into tokens and ids)", "View: the tokenizer at work"),
    Key("h", "view('health')", "health", "view: network health (saturation, gradient and update sizes)",
        "View: network health (saturation, gradients, updates)"),
    Key("o", "view('runs')", "runs", "view: runs (enter continues one, c compares its loss curve)",
        "View: runs (continue one, compare loss curves)"),
    Key("d", "view('dataset')", "dataset", "view: dataset (vocabulary, splits, lengths, the most frequent tokens)",
        "View: dataset (vocabulary, splits, lengths)"),
    Key("t", "view('sweeps')", "sweeps", "view: sweeps (a study's leaderboard; a applies the best trial)",
        "View: sweeps (studies, leaderboard, importances; apply the best)"),
    Key("x", "view('exercises')", "exercises", "view: the lecture's exercises, ticked from your runs",
        "View: the lecture's exercises, ticked from your runs"),
    Key("ctrl+s", "save", "save", f"save the run now (runs also save every {CHECKPOINT_EVERY:g} s and at pause)",
        "Save the run now", show=False),
    Key("g", "screenshot", "screenshot", "screenshot: an SVG of the screen, into the run folder",
        "Screenshot: an SVG of the screen, into the run folder", show=False),
    Key(App.COMMAND_PALETTE_BINDING, "command_palette", "palette", "command palette (every action)", bound=False),
    Key("question_mark", "help", "help", "this help", "Help"),
    Key("q", "quit", "quit", "quit", "Quit"),
    Key("ctrl+c", "quit", "quit", "quit, as q (a terminal program's usual exit)", show=False, priority=True),
    Key("escape", "leave_field", "leave field", "leave a field, so that the keys above work again", show=False),
)


def bindings() -> list[Binding]:
    """The app's BINDINGS."""
    return [Binding(k.key, k.action, k.footer, show=k.show, priority=k.priority) for k in KEYS if k.bound]


def palette_entries() -> list[Key]:
    """The keys whose actions the command palette lists, in the table's order."""
    return [k for k in KEYS if k.palette is not None]

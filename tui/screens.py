"""Modal screens: the help screen and a yes/no question."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Static

from core import settings
from core.engine.policy import EVAL_BUDGET, EVAL_INTERVAL
from tui.keys import KEYS
from tui.panes.splits import SAMPLE_ROWS

INTRO = """\
[b]mlp-tui[/] trains an MLP language model of characters or words (Bengio et al. 2003, makemore part 2) while \
you watch: loss plot, split losses, samples."""


def _words(names: list[str]) -> str:
    """a, b and c."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _controls() -> str:
    """What the fields do, live or on a fresh model, from the registry (core.settings)."""
    live = [s.label for s in settings.SETTINGS if s.form and s.live]
    fresh = [s.label for s in settings.SETTINGS if s.form and not s.live]
    flags = [s for s in settings.SETTINGS if s.cli and not s.form]
    text = (f"[b]Controls[/]  Each field checks its value as you type; a wrong value shows its reason and is "
            f"never applied. {_words(live)} apply to the running model when you press Enter or leave the field. "
            f"{_words(fresh)} need a fresh model: press r.")
    if flags:
        text += (f" {_words([s.label for s in flags])}: command line only "
                 f"({', '.join(s.flag for s in flags)}).")
    return text


def _split_losses() -> str:
    """When the split losses are evaluated, from the Session's policy (core.engine.policy)."""
    return (f"[b]Split losses[/]  dev and test over their whole splits every ~{EVAL_INTERVAL:g} s of training; "
            f"train in full when the {EVAL_BUDGET:.0%} evaluation budget allows, otherwise on a fixed "
            f"{SAMPLE_ROWS}-row sample (marked train*). All three in full at pause and at the end. Words of "
            f"running text make large splits: there dev and test are on fixed samples between those (dev*, test*), "
            f"the best dev loss is the sample's, and train is always a sample.")


def _table(rows: list[tuple[str, str]]) -> Table:
    """Two columns, the second wrapped under itself (a key or a name, then what it does)."""
    t = Table.grid(padding=(0, 2))
    t.add_column(no_wrap=True)
    t.add_column(ratio=1)
    for left, right in rows:
        t.add_row(Text(left), Text(right))
    return t


def help_content() -> Group:
    """The help screen: every key (tui/keys.py), every field (the registry), every preset."""
    keys = _table([(k.label, k.help) for k in KEYS])
    presets = _table([(name, settings.PRESET_NOTES.get(name, "")) for name in settings.PRESETS])
    return Group(
        Text.from_markup(INTRO), Text(), Text.from_markup("[b]Keys[/]"), Padding(keys, (0, 0, 0, 2)), Text(),
        Text.from_markup(_controls()), Text(),
        Text.from_markup("[b]Presets[/]  The preset selector fills the fields with a recipe:"),
        Padding(presets, (0, 0, 0, 2)), Text(), Text.from_markup(_split_losses()),
    )


class DismissOnce(Screen):
    """A screen whose dismiss acts once, and only while it is the screen on top. A second enter (or y, or a
    click) queued before the first closed it popped the screen beneath instead (the main screen: a crash, seen
    with enter enter on a run in the runs view) and ran the answer's callback twice."""

    closing = False

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if self.closing or not self.is_attached or self.app.screen is not self:
            return AwaitComplete()
        self.closing = True
        return super().dismiss(result)


class HelpScreen(DismissOnce, ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_content(), id="help-text")
            yield Static("[dim]escape to close[/]")

    def action_dismiss(self) -> None:
        self.dismiss(None)


class ConfirmScreen(DismissOnce, ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]

    def __init__(self, question: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

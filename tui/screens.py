"""Modal screens: the help screen and a yes/no question."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

HELP = """\
[b]mlp-tui[/] trains a character-level MLP language model (Bengio et al. 2003,
makemore part 2) while you watch: loss plot, split losses, sampled names.

[b]Keys[/]
  space   pause / resume training
  r       reset: a fresh model with the controls' values
  s       sample a batch of names now
  e       evaluate all three splits now
  m       plot: toggle EMA smoothing
  w       plot: all steps / last 20,000 steps
  v       view: embedding map (characters where their vectors are)
  f       view: learning-rate finder (a applies its suggestion)
  n       view: score a name, complete a prefix
  h       view: network health (saturation, gradient and update sizes)
  o       view: runs (enter continues one, c compares its loss curve)
  d       view: dataset (words, vocabulary, lengths, characters)
  t       view: sweeps (a study's leaderboard; a applies the best trial)
  x       view: the lecture's exercises, ticked from your runs
  ctrl+s  save the run now (runs also save every 5 s and at pause)
  g       screenshot: an SVG of the screen, into the run folder
  ctrl+p  command palette (every action)
  ?       this help
  q       quit
  escape  leave a field, so that the keys above work again

[b]Controls[/]  Each field checks its value as you type; a wrong value shows
its reason and is never applied. learn rate, schedule, decay x, decay at,
warm-up, wt decay, dropout, steps, minutes and temp apply to the running
model when you press Enter or leave the field. dataset, context,
embedding, hidden, init, batch, optimizer and seed need a fresh model:
press r. preset fills the fields with a recipe (lecture, kaiming, best).

[b]Split losses[/]  dev and test over their whole splits every ~2 s of
training; train in full when the 5% evaluation budget allows, otherwise
on a fixed 20K-row sample (marked train*). All three in full at pause
and at the end.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(HELP, id="help-text")
            yield Static("[dim]escape to close[/]")

    def action_dismiss(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]

    def __init__(self, question: str) -> None:
        super().__init__()
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

"""An on/off field for the form: enter, space or a click flips it.

A Select with two options costs ~40 ms of the first frame each (its overlay and option list); the form
has four on/off settings, so they get this one-line widget instead.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static


class Toggle(Static, can_focus=True):
    BINDINGS = [Binding("enter,space", "flip", "flip", show=False)]
    value: reactive[bool] = reactive(False)

    class Changed(Message):
        def __init__(self, toggle: Toggle, value: bool) -> None:
            super().__init__()
            self.toggle = toggle
            self.value = value

        @property
        def control(self) -> Toggle:
            return self.toggle

    def __init__(self, value: bool, tooltip: str | None = None, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.tooltip = tooltip
        self.set_reactive(Toggle.value, bool(value))  # no Changed for the start value

    def render(self) -> str:
        text = "[b]on[/]" if self.value else "off"
        return f"{text} (enter flips)" if self.has_focus else text

    def watch_value(self, value: bool) -> None:
        self.post_message(self.Changed(self, value))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_flip(self) -> None:
        self.value = not self.value

    def on_click(self) -> None:
        self.focus()
        self.value = not self.value

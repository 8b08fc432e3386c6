"""The controls pane: every hyperparameter, validated as you type, live or applied on reset."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Select, Static

from core.config import MLPConfig
from core.errors import ConfigError
from core.settings import Setting
from tui.messages import LiveChange, PendingChanged
from tui.panes.fields import BY_KEY, FIELDS, check_form, count_table_line, format_value, parse
from tui.panes.toggle import Toggle


class ControlsPane(VerticalScroll):
    """Fields left, their reasons under them; live fields apply on Enter or when you leave them."""

    BORDER_TITLE = "Controls"

    def __init__(self, values: dict[str, object], **kwargs) -> None:
        super().__init__(**kwargs)
        self.applied = dict(values)  # what the running model uses
        self.vocab_size: int | None = None
        self.size_problem = ""  # why the form's model would not fit, if it would not
        self._soon: set[str] = set()  # what to refresh after the current burst of field changes
        self._queued = False

    def compose(self) -> ComposeResult:
        from core.settings import PRESETS

        with Horizontal(classes="field", id="row-preset"):
            yield Label("preset", classes="flabel")
            start = self.applied.get("preset")
            yield Select([(name, name) for name in PRESETS], prompt="custom", compact=True, id="preset",
                         value=start if start in PRESETS else Select.NULL,
                         tooltip="fill the fields with a recipe; r applies it")
        for f in FIELDS:
            with Horizontal(classes="field", id=f"row-{f.key}"):
                yield Label(f.label, classes="flabel")
                value = self.applied.get(f.key)
                if f.value_type == "choice":
                    yield Select([(c, c) for c in f.choices], value=value, allow_blank=False, compact=True,
                                 id=f"f-{f.key}", tooltip=f.help)
                elif f.value_type == "bool":
                    yield Toggle(bool(value), id=f"f-{f.key}", tooltip=f.help)
                else:
                    yield Input(format_value(value), compact=True, id=f"f-{f.key}", tooltip=f.help,
                                select_on_focus=True)
            yield Static("", classes="ferr", id=f"err-{f.key}")
        yield Static("", id="pending")
        yield Static("", id="params")

    def on_mount(self) -> None:
        self.refresh_params()
        self._ready = False  # the selector's first Changed is its start value (--preset), not a choice
        self.call_after_refresh(setattr, self, "_ready", True)

    # ---- reading the form ----
    def text_of(self, key: str) -> str:
        w = self.query_one(f"#f-{key}")
        if isinstance(w, Toggle):
            return "on" if w.value else "off"
        if isinstance(w, Select):
            return str(w.value)
        assert isinstance(w, Input)
        return w.value

    def values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """All parsed values and the reasons of the invalid ones, the registry's cross-setting rules included
        (the same ones the command line and the Trainer run), each marked on the first setting it names."""
        return check_form({f.key: self.text_of(f.key) for f in FIELDS})

    def pending(self) -> tuple[str, ...]:
        """Reset-only fields whose valid form value differs from the running model's."""
        good, _ = self.values()
        return tuple(f.key for f in FIELDS if not f.live and f.key in good and good[f.key] != self.applied[f.key])

    # ---- events ----
    def _check(self, f: Setting, text: str) -> tuple[Any, str | None]:
        value, reason = parse(f, text)
        err = self.query_one(f"#err-{f.key}", Static)
        row = self.query_one(f"#row-{f.key}")
        err.update(f"  ↳ {reason}" if reason else "")
        err.set_class(reason is not None, "-shown")
        row.set_class(reason is not None, "-invalid")
        return value, reason

    def on_input_changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "")[2:]
        f = BY_KEY.get(key)
        if f is None:
            return
        self._check(f, event.value)
        self._later({"pending", "params"} if not f.live else {"params"})

    def _later(self, what: set[str]) -> None:
        self._soon |= what
        if not self._queued:
            self._queued = True  # once after this burst of changes (the form's mount sends one per field)
            self.call_after_refresh(self._refresh_soon)

    def _refresh_soon(self) -> None:
        """What a change of a field changes beyond its own row: the "needs a fresh model" note, the count,
        and the rules across settings (core.settings.RULES), shown on the first setting each names."""
        soon, self._soon, self._queued = self._soon, set(), False
        if "pending" in soon:
            self._pending_changed()
        if "params" in soon:
            self._show_rules()
            self.refresh_params()

    def _show_rules(self) -> None:
        good, bad = self.values()
        for f in FIELDS:
            if f.key not in good:
                continue  # its own reason is shown already
            message = bad.get(f.key)  # a valid value's mark is a rule's
            err = self.query_one(f"#err-{f.key}", Static)
            err.update(f"  ↳ {message}" if message else "")
            err.set_class(message is not None, "-shown")
            self.query_one(f"#row-{f.key}").set_class(message is not None, "-invalid")

    def on_toggle_changed(self, event: Toggle.Changed) -> None:
        key = (event.toggle.id or "")[2:]
        if key in BY_KEY:
            self._later({"pending", "params"})  # every on/off setting needs a fresh model

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "preset":
            if getattr(self, "_ready", False):
                self.apply_preset(str(event.value))
            return
        key = (event.select.id or "")[2:]
        if key in BY_KEY:
            if BY_KEY[key].live:
                self.apply_live(key)
                self._later({"params"})
            else:  # the note, the count, and the rules (hier wants a power-of-two context), once per burst
                self._later({"pending", "params"})

    def apply_preset(self, name: str) -> None:
        """Fill the form with a preset's values (the lecture's defaults under the preset's changes)."""
        from core.settings import PRESETS, resolve

        if name not in PRESETS:
            return
        own = "data" in PRESETS[name]  # bengio trains on its own text (kjv); the others keep the form's dataset
        values = resolve({} if own else {"data": self.text_of("data") or None}, name)
        self.set_form({k: v for k, v in values.items() if k != "data" or own})
        for f in FIELDS:
            if f.live and f.key in values:
                self.apply_live(f.key)
        self._pending_changed()
        self.refresh_params()

    def set_form(self, values: dict[str, object]) -> None:
        """Show these values in the fields (what is applied is up to the caller)."""
        for f in FIELDS:
            if f.key not in values:
                continue
            w = self.query_one(f"#f-{f.key}")
            if isinstance(w, Toggle):
                w.value = bool(values[f.key])
            elif isinstance(w, Select):
                w.value = values[f.key]
            elif isinstance(w, Input):
                w.value = format_value(values[f.key])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.apply_live((event.input.id or "")[2:])

    def on_descendant_blur(self, event) -> None:
        if isinstance(event.widget, Input):
            self.apply_live((event.widget.id or "")[2:])

    def apply_live(self, key: str) -> None:
        f = BY_KEY.get(key)
        if f is None or not f.live:
            return
        value, reason = self._check(f, self.text_of(key))
        if reason is None and value != self.applied.get(key):
            self.applied[key] = value
            self.post_message(LiveChange(key, value))

    def _pending_changed(self) -> None:
        keys = self.pending()
        note = self.query_one("#pending", Static)
        if keys:
            names = ", ".join(BY_KEY[k].label for k in keys)
            note.update(f"[b]needs a fresh model:[/] {names} — press [b]r[/] to reset")
        else:
            note.update("")
        note.set_class(bool(keys), "-shown")
        self.post_message(PendingChanged(keys))

    # ---- from the app ----
    def set_applied(self, values: dict[str, object]) -> None:
        """The model was (re)built with these values: they are the form's new baseline. With other data settings
        the vocabulary is unknown until the new model's Ready says it (set_vocab)."""
        if any(BY_KEY[k].target == "data" and v != self.applied.get(k) for k, v in values.items() if k in BY_KEY):
            self.vocab_size = None
        self.applied.update(values)
        self._pending_changed()
        self.refresh_params()

    def set_vocab(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size
        self.refresh_params()

    def refresh_params(self) -> None:
        from core.settings import of

        good, bad = self.values()
        out = self.query_one("#params", Static)
        if self.vocab_size is None:
            out.update("[dim]parameters: loading data…[/]")
            return
        model_keys = [s.name for s in of("model")]
        if any(k in bad or k not in good for k in model_keys):
            out.update("[dim]parameters: fix the fields above[/]")
            return
        if any(BY_KEY[k].target == "data" for k in self.pending()):  # other data, tokens or min count
            out.update("[dim]parameters: counted at reset (the data settings make a new vocabulary)[/]")
            return
        V, block = self.vocab_size, good["block_size"]
        cfg = MLPConfig(vocab_size=V, **{k: good[k] for k in model_keys})
        problem = self._size_problem(cfg, good.get("batch_size"))
        self.size_problem = str(problem) if problem else ""
        if problem:
            # the form shows the sizes already: the reason without the model's description fits the pane
            out.update(f"[b red]too large:[/] {escape(problem.brief)}")
            return
        out.update(f"[b]{cfg.num_params():,}[/] parameters\n{count_table_line(V, block, self.applied.get('tokens'))}")

    @staticmethod
    def _size_problem(cfg: MLPConfig, batch_size: object) -> ConfigError | None:
        """Why this model (with this batch) would not fit in memory, or None (checked before any allocation)."""
        from core.config import TrainConfig

        try:
            cfg.validate()
            if isinstance(batch_size, int):
                TrainConfig(batch_size=batch_size).check_fits(cfg)
        except ConfigError as e:
            return e
        return None

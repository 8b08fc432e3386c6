"""The settings registry: every hyperparameter and option of a run, declared once.

Each `Setting` holds its one name (the same word in the config dataclass, the app's form, the
checkpoint and metrics.json), its type, default, range or choices, label, help and group; whether it
can change on a running model (`live`) or needs a fresh one; where it goes (`target`: the model's
config, the training config, the data, or sampling); and, for the sweeps, which values make sense
to tune. Everything else is made from it: the command-line flags (tui.subcommands.options), the form's fields
(tui.panes.fields), the config dataclasses (core.config; a test holds them to the registry) and their
validation, the live set (the Trainer), preset resolution, and the README's flag table (tested). The
rules across settings (RULES) run wherever a config is checked: the form (tui.panes.fields.check_form), and
core.config.validate_configs, which Trainer(...) runs, so every command that trains.

Torch-free, so the app validates as you type without loading torch. Older spellings (`emb_dim`,
`--hidden`) stay as aliases wherever a user types a name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from core.presets import PRESET_NOTES, PRESETS  # noqa: F401  (re-exported: the presets are settings' values)
from core.tokens import BPE_MAX, BPE_MIN, BPE_TEXT, DEDUPE_TEXT, FORMATS, TOKEN_KINDS

MAX_BATCH = 1 << 16
GROUPS = ("data", "model", "optimisation", "schedule", "sampling")
TARGETS = ("data", "model", "train", "sample")


@dataclass(frozen=True)
class Tune:
    """The values a sweep may try: a range and a scale ("log", "linear", "int", "log-int"), or choices."""

    lo: float = 0.0
    hi: float = 0.0
    scale: str = "linear"
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Setting:
    name: str
    value_type: str  # int, float, bool, choice, data: what its values are
    default: Any
    group: str
    target: str
    label: str  # the form's label
    help: str  # one line; "(default: ...)" is added for the flag
    lo: float = 0
    hi: float = math.inf
    lo_open: bool = False  # lo itself is refused
    choices: tuple[str, ...] = ()
    live: bool = False  # applies to the running model; else it needs a fresh one (r)
    optional: bool = False  # empty (None) means off
    form: bool = True  # a field in the app's form (else: command line only)
    cli: bool = True  # a flag of `mlp-tui` and `mlp-tui train`
    aliases: tuple[str, ...] = ()  # older names, accepted where a user types one (flags as --x-y)
    tune: Tune | None = None
    metavar: str = "N"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def flags(self) -> list[str]:
        return [self.flag, *("--" + a.replace("_", "-") for a in self.aliases)]

    @property
    def key(self) -> str:  # the form's field id is f-<key>
        return self.name

    def parse(self, text: str) -> tuple[Any, str | None]:
        """(value, None) if text is a valid value, else (None, the reason in a few words)."""
        text = text.strip()
        if not text or (self.optional and text.lower() in ("off", "none")):
            return (None, None) if self.optional else (None, "required")
        if self.value_type == "bool":
            low = text.lower()
            if low in ("true", "on", "yes", "1"):
                return True, None
            if low in ("false", "off", "no", "0"):
                return False, None
            return None, "on or off"
        if self.value_type == "choice":
            return (text, None) if text in self.choices else (None, f"one of {', '.join(self.choices)}")
        if self.value_type == "data":
            return _parse_data(text)
        try:
            value: float = int(text.replace("_", "").replace(",", "")) if self.value_type == "int" else float(text)
        except ValueError:
            return None, "a whole number" if self.value_type == "int" else "a number"
        reason = self.out_of_range(value)
        return (None, reason) if reason else (value, None)

    def out_of_range(self, value: float) -> str | None:
        """Why a number is outside this setting's range ("must be <= 256"), or None."""
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer beyond any float (400 digits): surely out of range
            return f"must be <= {fmt(self.hi)}" if value > 0 else f"must be >= {fmt(self.lo)}"
        if not finite:
            return "must be a finite number"
        if value < self.lo or (self.lo_open and value == self.lo):
            return f"must be > {fmt(self.lo)}" if self.lo_open else f"must be >= {fmt(self.lo)}"
        if value > self.hi:
            return f"must be <= {fmt(self.hi)}"
        return None

    def check(self, value: Any) -> str | None:
        """Why a typed value (from a config, a checkpoint, a recipe) is not valid here, or None."""
        if value is None:
            return None if self.optional else "is required"
        if self.value_type == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if self.value_type == "choice":
            return None if value in self.choices else f"must be one of {', '.join(self.choices)}"
        if self.value_type == "data":
            return None if isinstance(value, str) and value else "must be a dataset name or a file"
        if self.value_type == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
            return "must be an integer"
        if self.value_type == "float" and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return "must be a number"
        return self.out_of_range(value)


def fmt(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return {True: "on", False: "off", None: "off"}[x]
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.0f}" if x.is_integer() and abs(x) >= 1000 else f"{x:g}"
    return str(x)


def _parse_data(text: str) -> tuple[Any, str | None]:
    from core.data import dataset_problem

    reason = dataset_problem(text)
    return (None, reason) if reason else (text, None)


INITS = ("lecture", "kaiming", "zero")
ARCHS = ("flat", "hier")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine", "constant", "inverse")

# The registry. Order is the form's order and the flags' order in --help.
SETTINGS: tuple[Setting, ...] = (
    Setting("data", "data", "names", "data", "data", "dataset", "a text file with one word per line, or a built-in "
            "dataset: names, surnames, kjv (running text: use --format text)", metavar="PATH"),
    Setting("dedupe", "bool", False, "data", "data", "dedupe", "split by distinct word, so that no word is in two "
            "splits (off: by line, as the lecture, so a name listed twice can be in train and in dev)"),
    Setting("format", "choice", "lines", "data", "data", "format", "lines: a word list, one item per line, split at "
            "random; text: running text, lines kept, a line end a token, split by position (80/10/10 of the lines)",
            choices=FORMATS, metavar="FORMAT"),
    Setting("tokens", "choice", "chars", "data", "data", "tokens", "what the model predicts: characters, or words "
            "and punctuation (one rule: core.tokens.WORD_RE)", choices=TOKEN_KINDS, metavar="KIND",
            tune=Tune(choices=TOKEN_KINDS)),  # a sweep across kinds of token ranks by dev bits per character
    Setting("min_count", "int", 4, "data", "data", "min count", "words: a word seen fewer times than this in the "
            "training split becomes <unk>", 1, 10**9),
    Setting("bpe_vocab", "int", 4000, "data", "data", "bpe vocab", f"--tokens bpe (byte-pair encoding of running "
            f"text): the tokens its tokenizer learns on the training split, the line end and the 256 bytes included "
            f"({BPE_MIN}: bytes only, no merges)", BPE_MIN, BPE_MAX, tune=Tune(BPE_MIN, 16_000, "log-int")),
    Setting("lower", "bool", False, "data", "data", "lower", "fold the text to lower case before it is modelled"),
    Setting("block_size", "int", 3, "model", "model", "context", "characters of context the model sees", 1, 256,
            tune=Tune(2, 16, "int")),
    Setting("n_embd", "int", 10, "model", "model", "embedding", "size of each character's embedding vector", 1, 4096,
            aliases=("emb_dim",), tune=Tune(2, 64, "log-int")),
    Setting("n_hidden", "int", 200, "model", "model", "hidden", "units in the tanh hidden layer", 1, 100_000,
            aliases=("hidden",), tune=Tune(32, 1024, "log-int")),
    Setting("init", "choice", "lecture", "model", "model", "init", "weight initialisation: the lecture's plain "
            "N(0,1) (initial loss ~26 on any vocabulary, 27 characters or 5,546 words, where ln(vocab) is 3.3 or 8.6: "
            "makemore part 3's lesson), kaiming (tanh gain, small last layer: initial loss near ln(vocab); the bengio "
            "preset's), or zero (every weight "
            "0: makemore part 3's puzzle of a net that trains only partly)", choices=INITS,
            tune=Tune(choices=INITS[:2])),
    Setting("batchnorm", "bool", False, "model", "model", "batchnorm", "batch-normalise the hidden pre-activations "
            "(makemore part 3): batch statistics in training, running ones at evaluation and sampling"),
    Setting("arch", "choice", "flat", "model", "model", "arch", "flat: the context's embeddings concatenated into "
            "one vector (Bengio et al.); hier: fused in pairs, level by level, as WaveNet (makemore part 5; needs a "
            "power-of-two context)", choices=ARCHS, tune=Tune(choices=ARCHS), metavar="ARCH"),
    Setting("layers", "int", 1, "model", "model", "layers", "hidden layers of n_hidden units, each Linear, "
            "optional batch norm, tanh (makemore part 3; flat arch: hier's depth is log2 of the context)", 1, 64,
            tune=Tune(1, 5, "int")),
    Setting("direct", "bool", False, "model", "model", "direct", "Bengio et al.'s direct connections: a linear "
            "map from the concatenated embeddings straight to the logits, beside the hidden layers",
            tune=Tune(choices=(False, True))),
    Setting("bn_out", "bool", False, "model", "model", "bn logits", "batch-normalise the logits too, as makemore "
            "part 3's last layer (its gain starts at 0.1, so the first predictions are unsure)"),
    Setting("members", "int", 1, "model", "model", "members", "an ensemble that is one MLP: the embedding and the "
            "hidden layer split into this many (a power of two) independent MLPs, trained side by side, their "
            "logits averaged; n_embd and n_hidden are the totals (`train` and the app in a terminal give each "
            "member a core, up to the cores here; served or in a sweep, one core)", 1, 16),
    Setting("batch_size", "int", 32, "optimisation", "train", "batch", "examples per step", 1, MAX_BATCH,
            tune=Tune(16, 512, "log-int")),
    Setting("optimizer", "choice", "sgd", "optimisation", "train", "optimizer", "plain SGD, as in the lecture, or "
            "AdamW", choices=OPTIMIZERS, tune=Tune(choices=OPTIMIZERS)),
    Setting("lr", "float", 0.1, "optimisation", "train", "learn rate", "learning rate", 0, 1000, lo_open=True,
            live=True, tune=Tune(1e-4, 1.0, "log"), metavar="LR"),
    Setting("beta1", "float", 0.9, "optimisation", "train", "beta1", "AdamW's decay of the gradient's running mean",
            0, 0.9999, live=True, tune=Tune(0.8, 0.95), metavar="B"),
    Setting("beta2", "float", 0.999, "optimisation", "train", "beta2", "AdamW's decay of the squared gradient's "
            "running mean", 0, 0.99999, live=True, tune=Tune(0.95, 0.9999), metavar="B"),
    Setting("weight_decay", "float", 0.0, "optimisation", "train", "wt decay", "weight decay (decoupled, as AdamW's; "
            "for SGD the same shrink of the weights each step)", 0, 10, live=True, tune=Tune(1e-5, 0.1, "log"),
            metavar="WD"),
    Setting("dropout", "float", 0.0, "optimisation", "train", "dropout", "dropout on the hidden layer while "
            "training, off at evaluation; at most 0.9 (beyond, the kept units are scaled by 10x and more)", 0, 0.9,
            live=True, tune=Tune(0.0, 0.5), metavar="P"),
    Setting("grad_clip", "float", 0.0, "optimisation", "train", "grad clip", "clip the gradient's total norm to "
            "this before each update, as torch.nn.utils.clip_grad_norm_ (0: off)", 0, 1e6, live=True,
            tune=Tune(0.1, 10.0, "log"), metavar="NORM"),
    Setting("schedule", "choice", "step", "schedule", "train", "schedule", "learning-rate schedule: step "
            "(x lr_decay at decay_at), cosine (from lr down to lr x lr_decay), constant, inverse (lr / (1 + lr_decay "
            "x step), Bengio et al.'s)", choices=SCHEDULES,
            live=True, tune=Tune(choices=SCHEDULES)),
    Setting("lr_decay", "float", 0.1, "schedule", "train", "decay x", "step: multiply the learning rate by this at "
            "decay_at; cosine: end at lr x this; inverse: the decay per step", 0, 100,
            lo_open=True, live=True, tune=Tune(0.001, 0.5, "log"),
            metavar="F"),
    Setting("decay_at", "int", 100_000, "schedule", "train", "decay at", "step of the step schedule's decay", 0,
            10**12, live=True, metavar="STEP"),
    Setting("warmup", "int", 0, "schedule", "train", "warm-up", "steps of linear learning-rate warm-up from 0", 0,
            10**12, live=True, tune=Tune(0, 2000, "int"), metavar="STEPS"),
    Setting("steps", "int", 200_000, "schedule", "train", "steps", "training steps", 1, 10**12, live=True),
    Setting("minutes", "float", None, "schedule", "train", "minutes", "train for this many minutes of wall time "
            "instead of steps; the schedule stretches over the time (empty: off)", 0, 10**6, lo_open=True,
            live=True, optional=True, metavar="M"),
    Setting("patience", "int", 0, "schedule", "train", "patience", "stop early after this many scheduled dev "
            "evaluations without a better dev loss (0: never)", 0, 10**6, form=False),
    Setting("keep_best", "bool", False, "schedule", "train", "keep best", "at the end, keep the weights that had "
            "the best dev loss (off: the last weights)", form=False),
    Setting("seed", "int", 2147483647, "optimisation", "train", "seed", "seed for the initial weights, the batches "
            "and dropout (the split of the words has its own fixed seed)", 0, 2**63 - 1),
    Setting("temperature", "float", 1.0, "sampling", "sample", "temp", "sampling temperature: below 1 safer, above "
            "1 wilder; 0 (or under 1e-6) always the likeliest character", 0, 100, live=True, cli=False,
            metavar="T"),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
ALIASES: dict[str, str] = {a: s.name for s in SETTINGS for a in s.aliases}


def canonical(name: str) -> str:
    """The registry's name for a name as a user may type it: `emb_dim`, `--emb-dim`, `hidden` -> n_hidden."""
    n = name.lstrip("-").replace("-", "_")
    return ALIASES.get(n, n)


def get(name: str) -> Setting:
    return BY_NAME[canonical(name)]


def of(target: str) -> tuple[Setting, ...]:
    return tuple(s for s in SETTINGS if s.target == target)


def live(target: str = "train") -> tuple[str, ...]:
    """The settings of `target` that change on a running model."""
    return tuple(s.name for s in of(target) if s.live)


DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}

_BLOCK = BY_NAME["block_size"]  # `mlp-tui ngram --order N` counts with the MLP's context: block_size + 1
NGRAM_ORDER_DEFAULT, NGRAM_ORDER_RANGE = int(_BLOCK.default) + 1, (int(_BLOCK.lo) + 1, int(_BLOCK.hi) + 1)


# ---- rules that span settings: the CLI and the form run the same ones ----
@dataclass(frozen=True)
class Rule:
    names: tuple[str, ...]  # the settings it reads (the form marks the first)
    check: Callable[[Mapping[str, Any]], str | None]


def _uneven_members(v: Mapping[str, Any]) -> str | None:
    k, e, h = v.get("members") or 1, v.get("n_embd") or 1, v.get("n_hidden") or 1
    if k > 1 and not _power_of_two(k):  # W2 is stored over K: exact in float only for a power of two
        return f"members must be a power of two (1, 2, 4, 8 or 16), not {k}"
    if k > 1 and (e % k or h % k):
        return (f"{k} members split the embedding and the hidden layer evenly: n_embd ({e}) and n_hidden ({h}) "
                f"must be multiples of {k}")
    return None


def _power_of_two(n: Any) -> bool:
    return isinstance(n, int) and n >= 2 and n & (n - 1) == 0


RULES: tuple[Rule, ...] = (
    Rule(("batchnorm", "batch_size"), lambda v: "batch norm needs a batch of at least 2 (one row has no variance "
         "to normalise by)" if v.get("batchnorm") and (v.get("batch_size") or 2) < 2 else None),
    Rule(("bn_out", "batch_size"), lambda v: "batch norm needs a batch of at least 2 (one row has no variance "
         "to normalise by)" if v.get("bn_out") and (v.get("batch_size") or 2) < 2 else None),
    Rule(("block_size", "arch"), lambda v: f"the hier arch fuses characters in pairs: its context must be a power "
         f"of two (2, 4, 8, 16, ...), not {v['block_size']}"
         if v.get("arch") == "hier" and not _power_of_two(v.get("block_size")) else None),
    Rule(("layers", "arch"), lambda v: "the hier arch has log2(context) levels of its own; layers is for the flat "
         "arch (use 1)" if v.get("arch") == "hier" and (v.get("layers") or 1) > 1 else None),
    Rule(("members", "n_embd", "n_hidden"), lambda v: _uneven_members(v)),
    Rule(("dedupe", "format"), lambda v: DEDUPE_TEXT if v.get("dedupe") and v.get("format") == "text" else None),
    Rule(("tokens", "format"), lambda v: BPE_TEXT if v.get("tokens") == "bpe" and v.get("format") != "text" else None),
    Rule(("members", "arch", "layers", "batchnorm", "direct", "bn_out"), lambda v: "members are for the lecture's "
         "layout: flat, one hidden layer, no batch norm (of the hidden layer or the logits), no direct connections"
         if (v.get("members") or 1) > 1 and (v.get("arch") != "flat" or (v.get("layers") or 1) > 1
                                             or v.get("batchnorm") or v.get("direct") or v.get("bn_out")) else None),
)


def broken_rules(values: Mapping[str, Any]) -> list[tuple[Rule, str]]:
    """The rules these values break, each with its message (rules whose settings are missing are skipped)."""
    return [(rule, message) for rule in RULES
            if all(n in values for n in rule.names) and (message := rule.check(values))]


# ---- presets: data, in registry names, in core.presets ----


def resolve(given: Mapping[str, Any], preset: str | None = None) -> dict[str, Any]:
    """Every setting's value: given (not None) wins over the preset, which wins over the default.

    `given` may use old spellings (emb_dim); the result uses the registry's names."""
    chosen = PRESETS[preset or "lecture"]
    given = {canonical(k): v for k, v in given.items()}
    return {s.name: given[s.name] if given.get(s.name) is not None else chosen.get(s.name, s.default)
            for s in SETTINGS}


def values_for(target: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of one target's settings (what its config dataclass takes)."""
    return {s.name: values[s.name] for s in of(target) if s.name in values}


def rule_errors(values: Mapping[str, Any]) -> list[ConfigError]:
    """A ConfigError naming its settings for each rule these values break: what the form marks, validate raises."""
    return [ConfigError(message, rule.names) for rule, message in broken_rules(values)]


def validate(values: Mapping[str, Any], names: Iterable[str] | None = None) -> None:
    """ConfigError for the first value that breaks its setting (of `names`, default all), else for the first
    rule the values break; the error names the setting(s)."""
    for name in names if names is not None else values:
        s = BY_NAME.get(name)
        if s is not None:
            reason = s.check(values[name])
            if reason:
                raise ConfigError(f"{name} {reason}, got {values[name]!r}", (name,))
    broken = rule_errors(values)
    if broken:
        raise broken[0]


def markdown_table() -> str:
    """The README's table of flags, made from the registry (a test checks the README holds it)."""
    rows = ["| flag | default | range | what |", "|---|---|---|---|"]
    for s in SETTINGS:
        if not s.cli:
            continue
        if s.value_type in ("int", "float"):
            lo = f"> {fmt(s.lo)}" if s.lo_open else fmt(s.lo)
            rng = f"{lo} to {fmt(s.hi)}"
        elif s.value_type == "choice":
            rng = ", ".join(f"`{c}`" for c in s.choices)
        else:
            rng = "on/off" if s.value_type == "bool" else ""
        flags = ", ".join(f"`{f}`" for f in s.flags)
        where = "" if s.form else " (command line only)"
        rows.append(f"| {flags} | {fmt(s.default)} | {rng} | {s.help}{'; live' if s.live else ''}{where} |")
    return "\n".join(rows)


if __name__ == "__main__":  # python -m core.settings: print the README's flag table
    print(markdown_table())

"""The protocol between the app and its training process: one frozen dataclass per message.

Commands go from the app to the training process, between two chunks of steps:
  Reset(data, model, train, paused, runs_dir, dedupe, text)  a fresh model with these settings
  Load(path)                                            continue a saved run
  Apply(changes)                                        live settings of the running model
  Pause(), Resume(), SampleNow(), EvaluateNow(), Save()
  View(width, last)       the plot's width in points, and its window (the last N steps, or all)
  Watch(views)            the open views that update while training ("embeddings", "health")
  Temperature(value)      for sampled names
  Cores(count)            the cores the training process may use (the app decides: tui.hosting)
  FindLR(fresh)           the lr finder, from a fresh model or a copy of the current weights
  ScoreText(text)         the score view's text
  Prompt(text)            the samples pane's prompt (running text): the next samples continue it; "" clears it
  DatasetInfo()           the dataset view's statistics
  FindNeighbours(tokens, k)  the neighbours view's token (one) or analogy a - b + c (three)
  SplitTokens(text, summary)  the tokenizer view's text (or a line of the data) to split, and its summary
  Quit()                  save the run and stop
Events come back, at most ~10 frames a second and a few others between chunks:
  Loading(what)           a new model or a saved run is being made
  Ready(...)              a new model: dataset, vocabulary, configs, step, run (a loaded run's history),
                          running text's characters per token and <unk> targets per split (bits per character)
  RunFolder(path, saved_step)  where the run is kept (path None: not saved)
  Frame(snapshot, plot_steps, plot_vals)  a Snapshot (its status is a core.status.Status) and the curve
  Evaluated(step, losses, train_coverage, best_dev, best_dev_step, held_coverage)  "full" or "sample" ("first")
  Samples(step, names, prompt, cut), Diverged(message, step), Done(step, message, kept), Saved(path, step)
  PromptSet(text, shown, note, error)  the prompt as the model reads it (its tokens), or why it was refused
  Counts(order, k, losses, unseen_dev, used, table)  the counting baseline, for the split pane
  KneserNey(order, kind, losses, measures, seconds, nbytes, lower)  a word model's n-gram baseline, for the split pane
  Mixed(step, weight, perplexity, mlp, ngram, bpc)  the paper's mixture of the MLP and KneserNey (full evaluations)
  Error(message)          one line; the process goes on
  Fatal(message)          the training process failed and stops
  Neighbours(tokens, step, found, vocab_size, error)  FindNeighbours' answer: the top k only, never the table
  TokensSplit(text, line, tokens, summary, error)  SplitTokens' answer
  Embeddings, HealthReport, LRFound, Scored, DatasetStats  the views' results (VIEW_OF says whose)
Both sides dispatch by type (`Dispatcher`): an unknown message raises where MLP_TUI_STRICT_PROTOCOL is
set (the tests set it) and is logged and ignored elsewhere. Torch-free, so the app imports it freely.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# the split pane's baselines, events kept in a module of their own and read here as P.Counts, P.KneserNey, P.Mixed
from core.link.baselines_events import Counts, KneserNey, Mixed  # noqa: F401

log = logging.getLogger("mlp-tui.protocol")


# ---- results shared by the engine and the views ----
@dataclass(frozen=True)
class Snapshot:
    """What a UI needs to draw one frame; plain data, safe to read from another thread or process."""

    step: int
    total_steps: int
    lr: float
    status: str  # a core.status.Status, of SNAPSHOT (idle, or a Session's)
    elapsed: float  # seconds spent training
    steps_per_second: float
    last_loss: float  # mean loss of the latest chunk of steps
    split_losses: dict[str, float] = field(default_factory=dict)
    eval_step: int = -1
    best_dev: float = math.inf
    best_dev_step: int = -1
    message: str = ""
    cores: int = 1  # cores the steps run on (core.engine.train.Trainer.cores)


@dataclass(frozen=True)
class EmbeddingMap:
    """Where tokens sit. A character model: every character (`chars`, one per point). A word model: `labels`, the
    most frequent tokens of the training split (most frequent first), one per point, of `vocab_size` in all."""

    chars: str
    points: list[tuple[float, float]]  # one (x, y) per character (or per label)
    explained: float  # share of the variance the two axes hold (1.0 when n_embd <= 2)
    axes: str  # "dims" (the raw first two dimensions) or "pca"
    labels: list[str] = field(default_factory=list)  # a word model's tokens drawn (chars is then "")
    vocab_size: int = 0  # tokens in the vocabulary (a word model's map shows only the most frequent)


@dataclass(frozen=True)
class LRFind:
    lrs: list[float]
    losses: list[float]  # loss of each step's batch, before that step's update
    smoothed: list[float]  # EMA of the losses, bias-corrected
    suggestion: float  # where the smoothed loss falls fastest against log10(lr)


@dataclass(frozen=True)
class Health:
    step: int
    saturated: float  # share of hidden activations with |h| > SATURATED
    dead: int  # hidden units saturated on every row of the batch: no gradient flows through them
    n_hidden: int
    hist_edges: list[float]
    hist_counts: list[int]
    grad_ratio: dict[str, float]  # log10(grad std / data std) per parameter
    update_ratio: dict[str, float]  # log10(update std / data std) per parameter; the lecture aims at ~ -3
    loss: float
    # one row per hidden layer, as part 3's plots: (layer, mean, std, saturated share, dead units, units)
    per_layer: list[tuple[int, float, float, float, int, int]] = field(default_factory=list)
    # an ensemble's (core.probes.ensemble): the figures above are its members' mean, and one row per member
    # (member, batch loss, saturated share, dead units, units); empty for a single model
    members: list[tuple[int, float, float, int, int]] = field(default_factory=list)


# ---- commands: app -> training process ----
@dataclass(frozen=True)
class Reset:
    data: str
    model: dict
    train: dict
    paused: bool = False
    runs_dir: str | None = None
    dedupe: bool = False
    text: dict | None = None  # format, tokens, min_count, lower (core.tokens.TextOptions); None: the defaults


@dataclass(frozen=True)
class Load:
    path: str


@dataclass(frozen=True)
class Apply:
    changes: dict


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class SampleNow:
    pass


@dataclass(frozen=True)
class EvaluateNow:
    pass


@dataclass(frozen=True)
class Save:
    pass


@dataclass(frozen=True)
class View:
    width: int
    last: int | None = None


@dataclass(frozen=True)
class Watch:
    views: tuple[str, ...]


@dataclass(frozen=True)
class Temperature:
    value: float


@dataclass(frozen=True)
class Cores:
    count: int


@dataclass(frozen=True)
class FindLR:
    fresh: bool = True


@dataclass(frozen=True)
class ScoreText:
    text: str  # at most MAX_SCORE_CHARS: longer text is refused, and the score view's field takes no more


MAX_SCORE_CHARS = 64  # names are rarely over 20 characters
MAX_SENTENCE_CHARS = 400  # a sentence of running text to score (a verse of the King James Bible: up to ~550)


@dataclass(frozen=True)
class Prompt:
    text: str  # at most MAX_PROMPT_CHARS; "" (or only spaces) clears the prompt


MAX_PROMPT_CHARS = 200


@dataclass(frozen=True)
class DatasetInfo:
    pass


@dataclass(frozen=True)
class Quit:
    pass


# Only the latest of these counts: a burst (a paste into the score field, a held key) is handled once.
LATEST_ONLY: tuple[type, ...] = (ScoreText, Prompt, View, Watch, Temperature, Cores, DatasetInfo, FindLR,
                                 EvaluateNow, SampleNow, Save)


# ---- events: training process -> app ----
@dataclass(frozen=True)
class Loading:
    what: str


@dataclass(frozen=True)
class Ready:
    dataset: str
    words: int
    vocab: str
    examples: dict
    params: int
    model: dict
    train: dict
    step: int
    dedupe: bool = False
    run: dict | None = None  # a loaded run: path, created, evals [(step, dev)], finished
    text: dict | None = None  # the data's format, tokens, min_count, lower (core.tokens.TextOptions)
    chars_per_token: dict | None = None  # running text: split -> mean characters per token (core.measures)
    vocab_size: int = 0  # len(vocab) of characters; a word model's vocab is its words joined by spaces
    unk: dict | None = None  # words: split -> its targets that are <unk>


@dataclass(frozen=True)
class RunFolder:
    path: str | None  # None: this run is not being saved
    saved_step: int = -1


@dataclass(frozen=True)
class Frame:
    snapshot: Snapshot
    plot_steps: list
    plot_vals: list


@dataclass(frozen=True)
class Evaluated:
    step: int
    losses: dict
    train_coverage: str  # how much of the train split its loss is of: "full", or "sample" (the fixed 20K rows)
    best_dev: float
    best_dev_step: int
    held_coverage: str = "full"  # dev and test: "full", "sample" (fixed rows of a large split, core.engine.policy)
    # or "first" (fixed rows of a costly model's splits at its first evaluation: FIRST_SPLIT_WORK)


@dataclass(frozen=True)
class Samples:
    step: int
    names: list  # (name, in the training split); for running text, (line, in the training split)
    prompt: str = ""  # the prompt every sample starts with, as the model reads it ("": none)
    cut: tuple = ()  # indices of the samples cut at the length cap (core.probes.sample.max_tokens)


@dataclass(frozen=True)
class PromptSet:
    text: str  # as typed
    shown: str = ""  # its tokens, joined as the model's samples are ("": no prompt)
    note: str | None = None  # the words read as <unk>, in one line
    error: str | None = None  # why it was refused (the samples start afresh)


@dataclass(frozen=True)
class Diverged:
    message: str
    step: int


@dataclass(frozen=True)
class Done:
    step: int
    message: str = ""  # why it ended early (patience), else ""
    kept: str = "last"  # "best" when keep_best put back the best dev loss's weights


@dataclass(frozen=True)
class Saved:
    path: str
    step: int


@dataclass(frozen=True)
class Error:
    message: str  # one line, shown as it is


@dataclass(frozen=True)
class Fatal:
    message: str


@dataclass(frozen=True)
class Embeddings:
    step: int
    map: EmbeddingMap


@dataclass(frozen=True)
class HealthReport:
    optimizer: str
    health: Health


@dataclass(frozen=True)
class LRFound:
    step: int
    seconds: float
    optimizer: str
    fresh: bool
    result: LRFind


@dataclass(frozen=True)
class Scored:
    text: str
    error: str | None = None
    step: int = 0
    nll: float = 0.0
    mean_nll: float = 0.0
    positions: list = field(default_factory=list)  # names: (context, char, p, alternatives)
    completions: list = field(default_factory=list)
    in_train: bool = False
    # running text (kind "text"): positions are (token, p, alternatives, read as <unk>), the line end last;
    # completions are lines the model goes on with after the sentence
    kind: str = "name"
    line: str = ""  # the sentence normalised, as the model reads it
    perplexity: float = 0.0
    bpc: float = 0.0  # bits per character of the normalised sentence and its line end
    chars: int = 0
    unknown: int = 0  # tokens read as <unk>


@dataclass(frozen=True)
class DatasetStats:
    stats: dict


VIEW_OF: dict[type, str] = {Embeddings: "embeddings", HealthReport: "health", LRFound: "lr_find", Scored: "score",
                            DatasetStats: "dataset"}


def view_payload(event: Any) -> dict[str, Any]:
    """A view event as the keyword arguments of its view's show(): the result's fields beside the event's."""
    out: dict[str, Any] = {}
    for f in fields(event):
        value = getattr(event, f.name)
        if f.name in ("map", "health", "result", "stats"):
            out.update(asdict(value) if hasattr(value, "__dataclass_fields__") else value)
        else:
            out[f.name] = value
    return out


class Dispatcher:
    """Call the handler registered for a message's type. An unknown message is a bug on one side: it raises
    where MLP_TUI_STRICT_PROTOCOL is set (the tests), and is logged and ignored in a user's session."""

    def __init__(self, handlers: dict[type, Callable[[Any], Any]]) -> None:
        self.handlers = handlers

    def __call__(self, message: Any) -> Any:
        handler = self.handlers.get(type(message))
        if handler is None:
            if os.environ.get("MLP_TUI_STRICT_PROTOCOL"):
                raise TypeError(f"no handler for {type(message).__name__}: {message!r}"[:200])
            log.warning("ignored an unknown message: %r", type(message))
            return None
        return handler(message)


# the nearest-neighbours view's request and answer, in a module of their own, read here as P.FindNeighbours
from core.link.neighbours_messages import FindNeighbours, Neighbours  # noqa: E402

MAX_NEIGHBOURS = 100  # the most a FindNeighbours may ask for: the answer stays small
LATEST_ONLY = (*LATEST_ONLY, FindNeighbours)  # a burst of keystrokes is answered once
VIEW_OF[Neighbours] = "neighbours"
from core.link.tokenizer_messages import SplitTokens, TokensSplit  # noqa: E402  (the tokenizer view's, as P.X)

LATEST_ONLY, VIEW_OF[TokensSplit] = (*LATEST_ONLY, SplitTokens), "tokenizer"

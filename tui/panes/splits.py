"""Split losses: train / dev / test over their whole splits, the best dev so far, the change (running text: bits per
character instead, its headline); beside them the n-gram baseline at the same context (counts for characters,
Kneser-Ney and the paper's mixture for words: tui.panes.baseline), and the first loss against a uniform guess."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from core.engine.policy import TRAIN_SAMPLE_ROWS
from core.measures import loss_to_bpc
from tui.panes import baseline

SAMPLE_ROWS = f"{TRAIN_SAMPLE_ROWS / 1000:g}K"  # the size of the train split's fixed sample, as the panes say it


def _fmt(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.4f}"


def _perplexity(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) or x > 700 else f"{math.exp(x):,.1f}"


class SplitLosses(Static):
    BORDER_TITLE = "Split losses"

    def __init__(self, **kwargs) -> None:
        super().__init__("[dim]waiting for the first evaluation…[/]", **kwargs)
        self.history: list[tuple[int, dict[str, float], str]] = []  # (step, losses, train coverage)
        self.held = "full"  # the latest evaluation's dev and test: "full", "sample" (a large split's) or "first"
        self.best: tuple[float, int] = (math.inf, -1)
        self.counts: Any = None  # core.link.protocol.Counts (or KneserNey, a word model's) of the loaded data
        self.mixture: Any = None  # core.link.protocol.Mixed: the MLP mixed with KneserNey at the last full evaluation
        self.vocab_size = 0
        self.initial: float | None = None  # the train loss at step 0 (the lecture's exercise E02)
        self.members = 1  # an ensemble's (core.kernels.members): every split's loss is its averaged logits'
        self.chars_per_token: dict[str, float] = {}  # running text: split -> characters per token (Ready's)
        self.unk: dict[str, float] = {}  # words: split -> the share of its tokens that are <unk>

    def set_vocab(self, vocab_size: int, members: int = 1, info: dict | None = None) -> None:
        """A new model: its vocabulary's size, its members, and (the Ready event's `info`) running text's characters
        per token by split, which turn a loss per token into bits per character, and a word model's <unk> rates."""
        self.vocab_size, self.members = vocab_size, members
        info = info or {}
        self.chars_per_token = dict(info.get("chars_per_token") or {})
        tokens, unk = info.get("examples") or {}, info.get("unk") or {}
        self.unk = {s: unk[s] / tokens[s] for s in unk if tokens.get(s)}

    def set_counts(self, counts: Any) -> None:
        self.counts = counts
        if self.history:
            self.update(self.table())

    def set_mixture(self, mixed: Any) -> None:
        self.mixture = mixed
        if self.history:
            self.update(self.table())

    def add(self, step: int, losses: dict[str, float], train_coverage: str, best_dev: float, best_step: int,
            held_coverage: str = "full") -> None:
        self.held = held_coverage
        if not self.history and step == 0:
            self.initial = losses.get("train")
        self.history.append((step, losses, train_coverage))
        self.best = (best_dev, best_step)
        self.update(self.table())

    def clear(self) -> None:
        self.history, self.best, self.counts, self.initial, self.mixture = [], (math.inf, -1), None, None, None
        self.border_subtitle = ""
        self.update("[dim]waiting for the first evaluation…[/]")

    def on_resize(self, event: Any) -> None:
        if self.history:  # the notes are fitted to the pane's size
            self.update(self.table())

    def table(self) -> Group:
        """The losses' table, then the notes under it that fit whole (fitted by fit_notes)."""
        step, now, coverage = self.history[-1]
        prev = self.history[-2][1] if len(self.history) > 1 else {}
        t = Table(box=None, pad_edge=False, expand=False, show_header=True, header_style="bold")
        t.add_column("split")
        t.add_column("loss", justify="right")
        bpc = bool(self.chars_per_token)  # running text: bits per character, its headline, takes the change's place
        t.add_column(("bpc≥" if self.unk else "bpc") if bpc else "Δ", justify="right")
        c = self.counts
        wide = c is not None and self.content_size.width >= 31
        if wide:
            t.add_column(baseline.column(c), justify="right", style="magenta")
        mix = wide and baseline.is_kn(c) and self.content_size.width >= 40  # the mixture's dev and test, if it fits
        if mix:
            t.add_column("mix", justify="right", style="yellow")
        ppl = self.content_size.width >= (52 if mix else 40 if wide else 31)  # perplexity per token, if it fits
        if ppl:
            t.add_column("ppl", justify="right", style="cyan")
        for split in ("train", "dev", "test"):
            v, p = now.get(split), prev.get(split)
            if bpc:
                delta = bits_cell(v, self.chars_per_token.get(split))
            elif v is not None and p is not None and math.isfinite(v) and math.isfinite(p):
                d = v - p
                delta = f"[{'green' if d < 0 else 'red'}]{d:+.3f}[/]"
            else:
                delta = ""
            sampled = coverage == "sample" if split == "train" else self.held != "full"
            label = f"{split}*" if sampled else split
            t.add_row(label, _fmt(v), delta, *([_fmt(c.losses.get(split))] if wide else []),
                      *([baseline.mixture_cell(self.mixture, split)] if mix else []),
                      *([_perplexity(v)] if ppl else []))
        self.border_subtitle = f"at step {step:,}"
        width, height = self.content_size.width, self.content_size.height
        rows = height - 4 if height > 0 else 99  # the table's header and three rows; not laid out yet: all
        shown = fit_notes(self.notes(coverage, wide), width or 80, rows, self.app.console)
        return Group(t, *shown)

    def notes(self, coverage: str, wide: bool) -> list[tuple[str, str]]:
        """The notes under the table, most wanted first, each in full and short (markup)."""
        best, best_step = self.best
        at = f" @{best_step:,}" if best_step >= 0 else ""
        out = [(f"[b]best dev {_fmt(best)}[/]{at}",) * 2]
        c = self.counts  # the baseline beside the MLP, and a word model's mixture with it: the pane's point
        if c is not None:
            out.append(baseline.baseline_note(c, wide))
            if baseline.is_kn(c):
                out.append(baseline.mixture_note(self.mixture, c.kind))
        if self.chars_per_token and self.unk:  # a word model's bits per character: <unk>'s spelling comes free
            rates = "  ".join(f"{s} {self.unk[s]:.1%}" for s in ("dev", "test") if s in self.unk)
            out.append((f"[dim]bpc≥: bits per character, a lower bound (<unk> {rates})[/]",
                        "[dim]bpc≥: a lower bound (<unk>)[/]"))
        elif self.chars_per_token:
            out.append(("[dim]bpc: bits per character, one scale for every kind of token[/]",
                        "[dim]bpc: bits per character[/]"))
        if self.members > 1:  # train, dev and test are one model's: the plot's line is the members' mean
            out.append((f"[dim]all three: the ensemble of {self.members} (averaged logits); the plot's line: "
                        f"its members' mean[/]", f"[dim]all three: ensemble of {self.members}[/]"))
        if self.held == "sample":  # a large split's sample (core.engine.policy): its size depends on the vocabulary
            out.append(("[dim]* on a fixed sample spread over the split (best dev too)[/]", "[dim]* a fixed sample[/]"))
        elif self.held == "first":  # a costly model's first evaluation (core.engine.policy: FIRST_SPLIT_WORK)
            out.append(("[dim]* on fixed samples, so that training starts at once; in full from the next "
                        "evaluation[/]", "[dim]* samples; in full next[/]"))
        elif coverage == "sample":  # a large train split's sample is smaller (core.engine.policy)
            out.append((f"[dim]* on a fixed sample of up to {SAMPLE_ROWS} rows[/]",
                        f"[dim]* on a ≤{SAMPLE_ROWS}-row sample[/]"))
        if self.initial is not None and self.vocab_size > 1:
            u = math.log(self.vocab_size)
            out.append((f"[dim]initial loss {self.initial:.1f} at step 0; a uniform guess is {u:.2f}[/]",
                        f"[dim]step 0: {self.initial:.1f}, uniform {u:.2f}[/]"))
        if self.history:  # perplexity per token, exp(loss): the least wanted note, as the column shows it when wide
            dev = _perplexity(self.history[-1][1].get("dev"))
            out.append((f"[dim]perplexity per token: dev {dev}, best {_perplexity(best)}[/]", f"[dim]ppl dev {dev}[/]"))
        return out


def bits_cell(loss: float | None, ratio: float | None) -> str:
    """A loss per token as bits per character (core.measures.loss_to_bpc), for the table: "—" where unknown."""
    if loss is None or not ratio or not math.isfinite(loss):
        return "—"
    return f"{loss_to_bpc(loss, ratio):.3f}"


def fit_notes(notes: list[tuple[str, str]], width: int, rows: int, console: Console) -> list[Text]:
    """As many notes as fit whole in `rows` lines of `width` cells, most wanted first: all in full if they fit,
    else each short, else the least wanted left out (never a note cut in half, as the table's caption was at
    80x24)."""
    def total(chosen: list[str]) -> int:
        return sum(len(Text.from_markup(m).wrap(console, max(1, width))) for m in chosen)

    chosen = [full for full, _ in notes]
    if total(chosen) > rows:
        chosen = [short for _, short in notes]
        while chosen and total(chosen) > rows:
            chosen.pop()
    return [Text.from_markup(m) for m in chosen]

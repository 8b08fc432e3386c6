"""What the split pane says of its n-gram baseline: add-k counts (characters, core.link.protocol.Counts) or
Kneser-Ney (words of running text, KneserNey), and the paper's mixture of the MLP with it (Mixed). Pure functions
of those events, each note in full and short (the pane keeps what fits)."""

from __future__ import annotations

import math
from typing import Any


def _fmt(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.4f}"


def _ppl(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:,.1f}"


def is_kn(c: Any) -> bool:
    return hasattr(c, "measures")


def column(c: Any) -> str:
    """The baseline's column header: `counts`, or `KN4` (Kneser-Ney's order)."""
    return f"KN{c.order}" if is_kn(c) else "counts"


def per_token(kind: str) -> str:
    """Perplexity's unit: per word, per character."""
    return {"words": "word", "chars": "char"}.get(kind, "token")


def baseline_note(c: Any, wide: bool) -> tuple[str, str]:
    """The baseline's note: what it is and its dev figure (or, when wide, what its column leaves out)."""
    if not is_kn(c):
        dev = "" if wide else f" dev {_fmt(c.losses.get('dev'))},"
        return (f"[magenta]counts[/][dim]: {c.order}-gram, k {c.k:g},{dev} {c.unseen_dev:.1%} of dev contexts "
                f"unseen, {c.used:,} of {c.table:,} entries used[/]",
                f"[dim]{c.order}-gram[/] [magenta]counts[/]" + (f"[dim] dev {_fmt(c.losses.get('dev'))}[/]"
                                                                if not wide else f"[dim], k {c.k:g}[/]"))
    m = c.measures
    unit = per_token(c.kind)
    ppl = "  ".join(f"{s} {_ppl(m[s]['perplexity'])}" for s in ("dev", "test") if s in m)
    bpc = "  ".join(f"{s} {m[s]['bpc']:.3f}" for s in ("dev", "test") if "bpc" in m.get(s, {}))
    unk = "  ".join(f"{s} {m[s]['unk_rate']:.1%}" for s in ("dev", "test") if "unk_rate" in m.get(s, {}))
    bound = f" (a lower bound: <unk> {unk})" if unk else ""
    lowered = " of the lowered text" if c.lower else ""
    return (f"[magenta]KN{c.order}[/][dim]: Kneser-Ney {c.order}-gram, ppl per {unit} {ppl}; bpc{lowered} {bpc}"
            f"{bound}; built in {c.seconds:.1f} s[/]",
            f"[magenta]KN{c.order}[/][dim] ppl/{unit} dev {_ppl(m.get('dev', {}).get('perplexity'))}[/]")


def mixture_note(mx: Any, kind: str) -> tuple[str, str]:
    """The mixture's note: its weight, and dev and test perplexities beside the MLP's and Kneser-Ney's."""
    unit = per_token(kind)
    if mx is None:
        return ("[dim]mix (MLP + KN, weight fitted on dev): at pause and the end[/]", "[dim]mix: at pause[/]")
    rows = "  ".join(f"{s} {_ppl(mx.perplexity.get(s))}" for s in ("dev", "test") if s in mx.perplexity)
    alone = f"MLP {_ppl(mx.mlp.get('dev'))}, KN {_ppl(mx.ngram.get('dev'))}"
    bpc = "  ".join(f"{s} {v:.3f}" for s, v in mx.bpc.items())
    return (f"[yellow]mix[/][dim] {mx.weight:.2f} MLP + {1 - mx.weight:.2f} KN (fitted on dev) @{mx.step:,}: ppl per "
            f"{unit} {rows} (dev alone: {alone})" + (f"; bpc {bpc}" if bpc else "") + "[/]",
            f"[yellow]mix[/][dim] w {mx.weight:.2f} ppl dev {_ppl(mx.perplexity.get('dev'))}[/]")


def mixture_cell(mx: Any, split: str) -> str:
    """The mixture's loss (nats, as the loss column) on dev or test; blank on train (it is fitted on dev)."""
    if mx is None or split not in mx.perplexity:
        return ""
    p = mx.perplexity[split]
    return _fmt(math.log(p)) if p > 0 and math.isfinite(p) else "—"

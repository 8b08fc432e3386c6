"""What `mlp-tui sweep` and `sweep show` print of a study: a line per finished trial, the live table, the
summary; every trial's state named as core.sweeps.study.trial_state names it."""

from __future__ import annotations

import math
import time
from typing import Any

from core.runs.files import safe_text
from core.runs.listing import perplexity_text


def print_finished(trials: list, seen: set[int]) -> set[int]:
    """Plain text for a pipe or a file: one line per trial as it finishes."""
    from core.sweeps.study import trial_state

    for t in trials:  # (a trial whose worker died is finished, interrupted, even if the storage says running)
        if t.number in seen or trial_state(t) in ("running", "waiting"):
            continue
        seen.add(t.number)
        print(trial_line(t), flush=True)
    return seen


def trial_line(t: Any) -> str:
    """One trial: state (as counted), its objective (dev loss, or dev bits per character on running text: core.sweeps
    .objective), perplexity, steps, settings, and why it was skipped or failed."""
    from core.sweeps.objective import label, trial_perplexity
    from core.sweeps.study import trial_note, trial_state

    state = trial_state(t)
    last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
    shown = t.value if t.state.name == "COMPLETE" else last  # a pruned trial: its last reported value
    value = f"{shown:.4f}" if shown is not None and math.isfinite(shown) else "-"
    params = " ".join(f"{k}={fmt(v)}" for k, v in t.params.items())
    steps = t.user_attrs.get("steps")
    note = trial_note(t)
    note = "" if note == "interrupted" else note  # the state says it
    ppl = perplexity_text(trial_perplexity(t, shown)) if shown is not None and math.isfinite(shown) else "-"
    return (f"trial {t.number:>4}  {state:<11} {label(t)} {value:>7}  ppl {ppl:>7}  "
            f"steps {steps if steps is not None else '-':>8}  "
            f"{params}{'  (' + safe_text(note, 120) + ')' if note else ''}")


def fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def summary(trials: list) -> str:
    """The study's counts and best trial, one line."""
    from core.sweeps.objective import label
    from core.sweeps.study import counts, counts_text, leaderboard

    top = leaderboard(trials, 1)
    best = f"best {label(top[0])} {top[0].value:.4f} (trial {top[0].number})" if top else "no trial complete yet"
    return f"{counts_text(counts(trials))}; {best}"


def table(name: str, trials: list, started: float, job: Any) -> Any:
    """The live leaderboard and a status line, for a terminal."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from core.sweeps.objective import study_label, trial_perplexity
    from core.sweeps.study import counts, leaderboard

    c = counts(trials)
    done = c["complete"] + c["pruned"] + c["failed"]
    elapsed = time.time() - started
    if job.total:
        eta = elapsed / done * max(0, job.total - done) if done else math.nan
    else:
        eta = max(0.0, job.deadline - time.time()) if job.deadline else math.nan
    t = Table(title=f"study {safe_text(name)}: leaderboard", title_justify="left")
    for col in ("trial", study_label(trials), "dev ppl", "steps", "state", "settings"):
        t.add_column(col, justify="left" if col in ("state", "settings") else "right")
    for tr in leaderboard(trials, 10):
        t.add_row(str(tr.number), f"{tr.value:.4f}", perplexity_text(trial_perplexity(tr, tr.value)),
                  f"{tr.user_attrs.get('steps', 0):,}", "complete",
                  " ".join(f"{k}={fmt(v)}" for k, v in tr.params.items()))
    eta_text = "-" if not math.isfinite(eta) else time.strftime("%H:%M:%S", time.gmtime(eta))
    status = Text(f"{summary(trials)} · {time.strftime('%H:%M:%S', time.gmtime(elapsed))} elapsed · "
                  f"ETA {eta_text}")
    return Group(t, status)



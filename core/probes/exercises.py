"""The lecture's exercises (makemore part 2, and part 3's puzzle), each ticked from the runs on disk that trained
on the lecture's data, the built-in names (with or without dedupe): a dev loss of 0.6 on another list beats
nothing of the lecture's.

Torch-free: it reads run.json and the first value of losses.f32 through core.runs.folder's checked readers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.milestones import MILESTONES, NAMES

LECTURE_DEV = MILESTONES[0].dev  # makemore part 2's final dev loss
LECTURE_DATA = NAMES  # the lecture's data: only runs on it count, split by line or with dedupe
NEAR_UNIFORM = 0.1  # nats from ln(vocab) that count as "near"


@dataclass(frozen=True)
class Exercise:
    key: str
    text: str
    how: str  # the keys or flags that do it here
    done: bool
    evidence: str  # which run(s) tick it, or what is missing


def _runs(root: Path) -> list[tuple[Path, dict]]:
    from core.runs.folder import RunError, read_info
    from core.runs.listing import list_runs

    out = []
    try:
        summaries = list_runs(root)
    except RunError:
        return []
    for r in summaries:
        if r.error:
            continue
        try:
            out.append((r.path, read_info(r.path)))
        except RunError:
            continue
    return out


def on_lecture_data(info: dict) -> bool:
    """Whether a run trained on the built-in names (by name, or by the path of its file)."""
    from core.data import builtin_dir

    dataset = info.get("dataset")
    return dataset == LECTURE_DATA or (isinstance(dataset, str) and os.path.isabs(dataset) and
                                       Path(dataset) == builtin_dir() / f"{LECTURE_DATA}.txt")


def _first_loss(path: Path) -> float | None:
    from core.runs.folder import RunError, read_losses

    try:
        values = read_losses(path, max_steps=1)
    except RunError:
        return None
    return 10 ** values[0] if len(values) else None


def _same_but_direct(a: dict, b: dict) -> bool:
    """Two runs on the same data with the same settings apart from direct connections (and the length)."""
    skip = {"direct"}
    ma = {k: v for k, v in a["model"].items() if k not in skip}
    mb = {k: v for k, v in b["model"].items() if k not in skip}
    ta = {k: v for k, v in a["train"].items() if k not in ("steps", "minutes", "decay_at", "patience", "keep_best")}
    tb = {k: v for k, v in b["train"].items() if k not in ("steps", "minutes", "decay_at", "patience", "keep_best")}
    return a["dataset"] == b["dataset"] and a.get("dedupe") == b.get("dedupe") and ma == mb and ta == tb


def check(root: str | os.PathLike[str]) -> list[Exercise]:
    from core.runs.files import PathError, user_path

    try:
        every = _runs(user_path(root))
    except PathError:
        every = []
    runs = [(p, info) for p, info in every if on_lecture_data(info)]  # a dev loss on other data is no comparison
    n = len(every) - len(runs)
    others = f" ({n} run{'s' * (n != 1)} on other data: only runs on the built-in names count)" if n else ""
    out = []
    beaten = [(info["best_dev_loss"], p) for p, info in runs
              if isinstance(info.get("best_dev_loss"), float) and info["best_dev_loss"] < LECTURE_DEV]
    best = min(beaten, default=None)
    out.append(Exercise("E01", f"beat the lecture's dev loss of {LECTURE_DEV}", "tune the controls, or mlp-tui sweep",
                        best is not None, f"{best[1].name}: best dev {best[0]:.4f}" if best else
                        f"no run on names below {LECTURE_DEV} yet{others}"))
    near = None
    for p, info in runs:
        first, v = _first_loss(p), info.get("vocab_size")
        if first is not None and isinstance(v, int) and v > 1 and abs(first - math.log(v)) <= NEAR_UNIFORM:
            near = (p, first, math.log(v))
            break
    out.append(Exercise("E02", "start with a loss near a uniform guess, ln(vocab)", "init: kaiming (--init kaiming)",
                        near is not None, f"{near[0].name}: {near[1]:.3f} at the first step, ln(vocab) = {near[2]:.3f}"
                        if near else f"no run on names started within 0.1 of ln(vocab) yet{others}"))
    with_direct = [(p, i) for p, i in runs if i["model"].get("direct")]
    pair = next(((a, b) for a, ia in with_direct for b, ib in runs if not ib["model"].get("direct")
                 and _same_but_direct(ia, ib)), None)
    out.append(Exercise("E03", "try an idea from the Bengio et al. paper: direct connections, with and without",
                        "direct: on (--direct), and the same run off", pair is not None,
                        f"{pair[0].name} (direct) and {pair[1].name} (without)" if pair else
                        ("a run with direct connections, but none without on the same settings" if with_direct else
                         f"no run on names with direct connections yet{others}")))
    zero = next((p for p, i in runs if i["model"].get("init") == "zero"), None)
    out.append(Exercise("part 3", "why does an all-zero init train only partly?", "init: zero (--init zero)",
                        zero is not None, f"{zero.name}: only the output bias learns (every hidden unit is the same, "
                        f"and none gets a gradient)" if zero else f"no run on names with --init zero yet{others}"))
    return out


def as_rows(exercises: list[Exercise]) -> list[dict[str, Any]]:
    return [e.__dict__ for e in exercises]

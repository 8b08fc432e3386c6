"""Reading sweeps for the app's sweeps view: the studies in a storage, and one study as plain data.

Plain dicts and lists (no Optuna objects), so the view can render them without knowing Optuna; Optuna is
imported here only when a view asks, in the view's reading thread.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from core.sweeps.objective import study_label, trial_perplexity
from core.sweeps.storage import open_storage, sqlite_file, storage_errors
from core.sweeps.study import counts, leaderboard, load_study, trained_values


def studies(url: str) -> list[dict[str, Any]]:
    """Every study in the storage: name, trials, best value (dev loss, or dev bpc on running text; None before a
    trial completes)."""
    import optuna

    path = sqlite_file(url)
    if path is not None and not os.path.lexists(path):
        return []  # no sweep has run here yet: nothing to read (and nothing to make)
    out = []
    with storage_errors(url):
        found = optuna.get_all_study_summaries(open_storage(url, reading=True), include_best_trial=True)
    for s in found:
        best = s.best_trial.value if s.best_trial is not None else None
        out.append({"name": s.study_name, "trials": s.n_trials, "best": best,
                    "started": s.datetime_start.strftime("%Y-%m-%d %H:%M") if s.datetime_start else ""})
    return sorted(out, key=lambda d: d["started"], reverse=True)


def detail(name: str, url: str, top: int = 10) -> dict[str, Any]:
    """One study: its counts, leaderboard, the best dev loss so far against the trial number, the
    parameters' importances (or why there are none yet), and the best trial's settings in full."""
    study = load_study(name, url)
    with storage_errors(url):
        trials = study.get_trials(deepcopy=False)
    board = leaderboard(trials, top)
    history, best = [], math.inf
    for t in sorted(trials, key=lambda t: t.number):
        if t.state.name == "COMPLETE" and t.value is not None and math.isfinite(t.value):
            best = min(best, t.value)
            history.append((t.number, best))
    found, why = importances(study)
    base = json.loads(study.user_attrs.get("base", "{}"))
    best_values = None
    if board:
        best_values = trained_values(board[0], base)
    return {
        "name": name,
        "counts": counts(trials),
        "objective": study_label(trials, study),  # what "dev" is: "dev" (a loss) or "dev bpc" (running text)
        "leaderboard": [{"number": t.number, "dev": t.value, "test": t.user_attrs.get("test"),
                         "perplexity": trial_perplexity(t, t.value),
                         "steps": t.user_attrs.get("steps", 0), "params": dict(t.params),
                         "run": t.user_attrs.get("run")} for t in board],
        "history": history,
        "importances": found,
        "importances_note": why,
        "best_values": best_values,
    }


def importances(study: Any) -> tuple[dict[str, float], str]:
    """The tuned settings' importances, or none and why not yet (too few complete trials, no variation).
    Optuna says "too few" by a warning, which would land on the terminal as a file path and a line of
    its code: it is caught and becomes the reason instead."""
    import warnings

    import optuna

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = dict(optuna.importance.get_param_importances(study))
    except Exception as e:  # noqa: BLE001 - too few complete trials, or no variation yet
        return {}, str(e).splitlines()[0] if str(e) else type(e).__name__
    said = [str(w.message).splitlines()[0] for w in caught if issubclass(w.category, UserWarning) and str(w.message)]
    if said:  # ("... too small to compute importances. Parameter importances will be equal.")
        return {}, said[0].split(". ")[0].rstrip(".")
    return found, ""

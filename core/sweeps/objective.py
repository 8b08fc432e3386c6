"""What a sweep minimises: the dev loss of a word list, or the dev bits per character of running text.

A loss per token does not compare across kinds of token (characters, words, BPE of one vocabulary size or
another), and a sweep over `tokens` or `bpe_vocab` compares exactly those; bits per character does (core.measures).
So on running text every trial reports, prunes on and returns its dev loss in bits per character, converted with the
mean characters per token of its own dev split (core.measures.chars_per_token, recorded on the trial as
`chars_per_token`), and the leaderboard, `sweep show`, `sweep export` and the app's sweeps view all rank by it and
label it so. A trial's perplexity per token is still shown, from its loss. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core.measures import chars_per_token, loss_to_bpc, perplexity

BPC, LOSS = "bpc", "loss"
LABELS = {BPC: "dev bpc", LOSS: "dev"}  # the column and the words before the value in every listing


def objective_for(values: Mapping[str, Any]) -> str:
    """The objective of a study of these (base) settings: bits per character on running text, else the loss."""
    return BPC if values.get("format") == "text" else LOSS


class Objective:
    """One trial's objective: a dev loss per token as the value the study sees (bits per character on running text,
    with the dev split's characters per token), recorded on the trial so every listing can read it back."""

    def __init__(self, data: Any, trial: Any = None) -> None:
        self.kind = BPC if data.options.text else LOSS
        self.ratios = chars_per_token(data) if self.kind == BPC else {}
        self.ratio = self.ratios.get("dev")
        if self.kind == BPC and not self.ratio:
            self.kind = LOSS  # an empty dev split: nothing to convert with (the trial fails on its missing dev loss)
        self.label = LABELS[self.kind]
        if trial is not None:
            trial.set_user_attr("objective", self.kind)
            if self.ratio:
                trial.set_user_attr("chars_per_token", self.ratio)

    def __call__(self, loss: float, split: str = "dev") -> float:
        """A loss of `split` as the objective measures it (the test split's with its own ratio)."""
        ratio = self.ratios.get(split)
        if self.kind == BPC and ratio and loss is not None and math.isfinite(loss):
            return loss_to_bpc(loss, ratio)
        return loss


def label(trial_or_study: Any) -> str:
    """"dev bpc" for a trial (or a study) of running text, "dev" for a word list's (and every older one)."""
    attrs = getattr(trial_or_study, "user_attrs", {}) or {}
    return LABELS.get(attrs.get("objective", LOSS), LABELS[LOSS])


def study_label(trials: list[Any], study: Any = None) -> str:
    """The label of a study's values: the study's own record, else its first trial's that has one."""
    if study is not None and "objective" in (study.user_attrs or {}):
        return label(study)
    return next((label(t) for t in trials if "objective" in (t.user_attrs or {})), LABELS[LOSS])


def as_loss(trial: Any, value: float | None) -> float | None:
    """A value the trial reported (its objective) back as a dev loss per token, for its perplexity."""
    if value is None or not math.isfinite(value):
        return value
    attrs = trial.user_attrs or {}
    if attrs.get("objective") != BPC:
        return value
    ratio = attrs.get("chars_per_token")
    return value * math.log(2) * ratio if isinstance(ratio, (int, float)) and ratio > 0 else None


def trial_perplexity(trial: Any, value: float | None) -> float:
    """The perplexity per token of a value the trial reported (nan where it cannot be told)."""
    loss = as_loss(trial, value)
    return perplexity(loss) if loss is not None and math.isfinite(loss) else math.nan

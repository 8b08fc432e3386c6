"""Continuing a saved run: the one path from a run folder to a Trainer that goes on where it stopped.

The app's training process (core.link.pump, "continue" in the runs view) and `mlp-tui train --resume RUN`
both come here, so they continue a run alike: the checkpoint's weights, optimiser state, batch and dropout
streams, schedule and clocks (core.runs.checkpoint.resume_trainer), on the dataset split the run was trained
on, with its loss history, patience's count and keep_best's weights (core.runs.kept). A run killed before its
first checkpoint has settings but no weights; with `fresh` it starts again from them, from step 0, in the same
folder (the writer then rewrites its files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from core.config import MLPConfig, TrainConfig
from core.data import Dataset
from core.engine.train import Trainer
from core.errors import MLPTuiError
from core.runs.checkpoint import Checkpoint, load_checkpoint, resume_trainer
from core.runs.files import safe_text, user_path
from core.runs.folder import CHECKPOINT, RunError, locked_message, read_info, read_losses
from core.runs.kept import restore_kept
from core.runs.listing import NO_CHECKPOINT, never_saved
from core.runs.lock import holder
from core.tokens import TextOptions


@dataclass
class OpenedRun:
    """A run folder made ready to train on: its Trainer, its run.json, and its checkpoint (None: it had none,
    and the Trainer starts afresh from the settings in its run.json)."""

    path: Path
    trainer: Trainer
    info: dict[str, Any]
    checkpoint: Checkpoint | None
    note: str = ""  # what keep_best lacks to go on as the unstopped run would (core.runs.kept), if anything

    @property
    def fresh(self) -> bool:
        return self.checkpoint is None


def open_run(path: str | os.PathLike[str], fresh: bool = False) -> OpenedRun:
    """The run at `path`, ready to go on; a one-line MLPTuiError if it cannot (missing, not a run, damaged,
    trained by another process now, no checkpoint). With `fresh`, a run interrupted before its first
    checkpoint starts afresh on its own settings; without, it is refused."""
    path = user_path(path)
    if path.exists() and not path.is_dir():
        raise RunError(f"{safe_text(path)}: is a file; give a run's folder")
    pid = holder(path)
    if pid is not None:
        raise RunError(locked_message(path, pid))
    info = read_info(path)
    if not os.path.lexists(path / CHECKPOINT):
        if not never_saved(info, path):  # e.g. "unsaved": a full disk; its weights went elsewhere
            raise RunError(f"{safe_text(path)}: the run has no checkpoint ({CHECKPOINT}); its status is "
                           f"{info['status']}" + (f" and its weights were saved to {safe_text(info['rescued_to'])}"
                                                  if isinstance(info.get("rescued_to"), str) else ""))
        if not fresh:
            raise RunError(f"{safe_text(path)}: {NO_CHECKPOINT}: there are no weights to continue")
        return OpenedRun(path, _fresh_trainer(info, path), info, None)
    ckpt = load_checkpoint(path / CHECKPOINT)
    data = Dataset.load(ckpt.dataset, ckpt.model_config.block_size, ckpt.split_seed, dedupe=ckpt.dedupe,
                        options=ckpt.options, tokenizer=ckpt.vocab.bpe)  # bpe: the run's own tokenizer
    trainer = resume_trainer(ckpt, data)  # first: a vocabulary that changed is named by its token
    check_fingerprint(path, info, data)
    note = restore_kept(path, ckpt, trainer)  # keep_best's weights: the best ones, and the last after its ending
    try:  # the curve is a bonus: a damaged losses.f32 costs only the plot's past
        losses = read_losses(path, max_steps=trainer.step)
        if len(losses):
            trainer.history.append(torch.tensor(losses.tolist()).nan_to_num_(nan=0.0, posinf=3.0, neginf=-3.0))
    except MLPTuiError:
        pass
    return OpenedRun(path, trainer, info, ckpt, note)


def check_fingerprint(path: Path, info: dict[str, Any], data: Dataset) -> None:
    """RunError, naming the file, if the data is not what the run began on (run.json's fingerprint: the file's lines
    and a hash of its splits); a run from before fingerprints has none, and goes on unchecked."""
    was = info.get("fingerprint")
    if was is None:
        return
    now = data.fingerprint()
    if now != was:
        lines = (f"{was['lines']:,} lines then, {now['lines']:,} now" if was["lines"] != now["lines"]
                 else f"{now['lines']:,} lines, but not the same text")
        raise RunError(f"{safe_text(path)}: {safe_text(data.source)} has changed since the run began ({lines}); "
                       "a run goes on only on the data it was trained on")


def _fresh_trainer(info: dict[str, Any], path: Path) -> Trainer:
    """A new Trainer on the settings run.json recorded (read_info has checked them): the same initial weights and
    batches as the run that was interrupted, since both come from its seed."""
    def config(cls: type, d: dict[str, Any]) -> Any:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    mcfg: MLPConfig = config(MLPConfig, info["model"])
    tcfg: TrainConfig = config(TrainConfig, info["train"])
    data = Dataset.load(info["dataset"], mcfg.block_size, dedupe=bool(info.get("dedupe", False)),
                        options=TextOptions.from_values(info.get("data") or {}))
    return Trainer(data, mcfg, tcfg)

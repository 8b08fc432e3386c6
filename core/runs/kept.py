"""keep_best's weights in the run folder, beside model.pt: best.pt and last.pt (core.runs.folder lists them).

  best.pt   the weights of the best dev loss, with its step and loss: written only with keep_best on, and only by
            a checkpoint that follows a new best (a run's best changes less and less often; model.pt is written
            every few seconds and should not carry a second copy of the weights each time).
  last.pt   the last weights, while model.pt holds the best ones that keep_best put back at the run's end (its
            checkpoint says "kept": "best"): a run continued goes on from these, as the unstopped run would have.
            Removed by the first checkpoint that holds the last weights again.
Each holds the weights and batch-norm statistics only (no optimiser state), an ensemble's W1 as its members'
blocks as model.pt keeps it (core.runs.checkpoint, version 2); each is written atomically, before model.pt, and
read only if it matches the checkpoint (best.pt: its best dev step and loss; last.pt: its step). A run without
them (written before they existed) still continues, and keeps its last weights at the end: the best were not kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from core.errors import CheckpointError
from core.model import MLP, dense_w1
from core.runs.atomic import write_atomic
from core.runs.checkpoint import MAX_CHECKPOINT_BYTES, Checkpoint, check_tensors, members_only
from core.runs.files import safe_text
from core.runs.folder import BEST, CHECKPOINT, LAST, is_plain_file

FORMAT = "mlp-tui-weights"
VERSION = 1


def _named(model: MLP) -> dict[str, torch.Tensor]:
    """The model's tensors by name, in the Trainer's order (its _tensors: parameters, then buffers)."""
    return {**{n: p.detach() for n, p in model.named_parameters()}, **dict(model.named_buffers())}


def save_weights(path: Path, model: MLP, tensors: list[torch.Tensor], step: int, dev: float | None) -> None:
    """`tensors` (in the Trainer's order) as a weights file: an ensemble's W1 as its members' blocks."""
    weights = dict(zip(_named(model), tensors))
    if model.config.members > 1:
        weights, _ = members_only(model, weights, {})
    obj = {"format": FORMAT, "version": VERSION, "step": step, "dev": dev, "weights": weights}
    write_atomic(path, lambda f: torch.save(obj, f))


def load_weights(path: Path, model: MLP, step: int, dev: float | None = None) -> list[torch.Tensor] | None:
    """A weights file's tensors in the Trainer's order, if it is there, whole, of this model and of `step` (and
    `dev`); None if not (the run then goes on without it)."""
    try:
        if not is_plain_file(path) or path.stat().st_size > MAX_CHECKPOINT_BYTES:
            return None
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # unreadable, cut short, not ours: torch raises many types; none should stop the run
        return None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("version") != VERSION \
            or obj.get("step") != step or (dev is not None and obj.get("dev") != dev) \
            or not isinstance(obj.get("weights"), dict):
        return None
    weights, want = obj["weights"], _named(model)
    try:
        if model.config.members > 1:
            mc = model.config
            K, T, E, H = mc.members, mc.block_size, mc.n_embd // mc.members, mc.n_hidden // mc.members
            check_tensors({"W1": weights.get("W1")}, {"W1": torch.empty(K, T, E, H, device="meta")}, "weights",
                          CheckpointError)
            weights = {**weights, "W1": dense_w1(weights["W1"])}
        check_tensors(weights, want, "weights", CheckpointError)
    except CheckpointError:
        return None
    return [weights[n].to(want[n].dtype) for n in want]


def restore_kept(run: Path, ckpt: Checkpoint, trainer: Any) -> str:
    """Put back in a continued run's Trainer what its Session kept: patience's count, and keep_best's weights
    (core.engine.kept): the best ones from best.pt, or, after keep_best's ending, the last ones from last.pt into
    the model and the best ones (the checkpoint's) aside. Returns a note when what keep_best needs is missing or
    does not match, else ""; a CheckpointError if the checkpoint's record of them is damaged."""
    stale, kept = ckpt.session.get("stale", 0), ckpt.session.get("kept", "last")  # none before: 0, the last
    if not isinstance(stale, int) or isinstance(stale, bool) or stale < 0 or kept not in ("last", "best"):
        raise CheckpointError(f"{safe_text(run / CHECKPOINT)}: damaged checkpoint (its session is "
                              f"{safe_text(repr(ckpt.session), 60)})")
    trainer.stale = stale
    if kept == "best":
        last = load_weights(run / LAST, trainer.model, ckpt.step)
        if last is None:  # only the best weights are left: the run goes on from them, as it did before last.pt
            return (f"its last weights ({LAST}) are missing or do not match: it goes on from the best ones, "
                    f"kept at its end")
        trainer.best_state = [t.clone() for t in _named(trainer.model).values()]
        trainer.last_state = last
        trainer.restore_last()
        return ""
    if not trainer.config.keep_best or ckpt.best_dev_step < 0:
        return ""
    best = load_weights(run / BEST, trainer.model, ckpt.best_dev_step, ckpt.best_dev_loss)
    if best is None:
        return (f"the weights of its best dev loss ({BEST}, step {ckpt.best_dev_step:,}) are missing or do not "
                f"match: keep_best keeps a better dev loss found from now on, else the last weights")
    trainer.best_state = best
    return ""


class KeptFiles:
    """What a RunWriter wrote of best.pt and last.pt, so that each is written only when it changed."""

    def __init__(self, trainer: Any) -> None:
        # a continued run's best weights came from its folder: they are there already
        self.best_step = trainer.best_dev_step if trainer.best_state is not None else None
        self.last_step: int | None = None

    def save(self, trainer: Any, folder: Path, checkpoint: Callable[[], Any]) -> None:
        """best.pt if the best changed, last.pt if model.pt is about to hold the best weights, then
        checkpoint() (model.pt); then last.pt goes once model.pt holds the last weights again."""
        if trainer.config.keep_best and trainer.best_state is not None and trainer.best_dev_step != self.best_step:
            save_weights(folder / BEST, trainer.model, trainer.best_state, trainer.best_dev_step, trainer.best_dev)
            self.best_step = trainer.best_dev_step
        if trainer.last_state is not None and trainer.step != self.last_step:
            save_weights(folder / LAST, trainer.model, trainer.last_state, trainer.step, None)
            self.last_step = trainer.step
        checkpoint()
        if trainer.last_state is None and os.path.lexists(folder / LAST):
            (folder / LAST).unlink()
            self.last_step = None

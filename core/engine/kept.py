"""The weights a run keeps beside its last ones: those of the best dev loss, which keep_best puts back at the end,
and the last ones, set aside meanwhile, since a run that goes on goes on from where its steps stopped.

A mixin of the Trainer (core.engine.train), whose record_eval copies the best ones; core.runs.kept writes both to
the run folder (best.pt, last.pt) and puts them back when the run is continued, so a continued run keeps the
weights an unstopped one would have.
"""

from __future__ import annotations

import torch


class KeptWeights:
    """best_state and last_state: the model's tensors (weights and batch-norm statistics), in _tensors' order."""

    best_state: list[torch.Tensor] | None
    last_state: list[torch.Tensor] | None

    def _tensors(self) -> list[torch.Tensor]:
        raise NotImplementedError  # the Trainer's: the tensors a rollback or the best-dev copy must keep

    def restore_best(self) -> bool:
        """Put back the weights that had the best dev loss (if any evaluation saw one); the last ones are set aside
        (last_state) for restore_last."""
        if self.best_state is None:
            return False
        self.last_state = [t.clone() for t in self._tensors()]
        self._put(self.best_state)
        return True

    def restore_last(self) -> bool:
        """Undo restore_best: the last weights back, to train on from where the steps stopped; False if none."""
        if self.last_state is None:
            return False
        self._put(self.last_state)
        self.last_state = None
        return True

    @torch.no_grad()
    def _put(self, tensors: list[torch.Tensor]) -> None:
        """Copy `tensors` into the model's, in place (an ensemble's kernel sees the write and unfolds them anew)."""
        for p, b in zip(self._tensors(), tensors):
            p.copy_(b)

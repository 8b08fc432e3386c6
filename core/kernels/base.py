"""The kernel contract: what the Trainer (core.engine.train), the lr finder and the bench may ask of a kernel.

Every kernel subclasses Kernel, so the Trainer tells them apart by these attributes alone, never by their
class or by probing for attributes; core.kernels.make_kernel picks one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from core.config import TrainConfig

__all__ = ["Kernel", "Lrs", "Rows", "stack_masks", "stack_rows", "step_lrs", "step_masks"]

# A chunk of n steps: one (n, ...) tensor for a stacked kernel, else a tuple of n rows, one per step.
Rows = torch.Tensor | tuple[torch.Tensor, ...]
Lrs = float | list[float]  # one learning rate for the whole chunk, or one per step


class Kernel(ABC):
    """Steps of an MLP without autograd, a chunk of them per run() call, updating the model's own weights.

    The class attributes are the defaults of a plain torch SGD kernel; a kernel that differs says so.
    """

    name: str = "torch"  # "numba": compiled steps (core.kernels.jit); "torch": torch calls; "openblas": torch calls
    # with the big products on numpy's OpenBLAS (core.kernels.wide). The Trainer reports it.
    stacked: bool = False  # run() takes a chunk as (n, ...) tensors; otherwise as tuples of rows, one per step
    general: bool = False  # real gradients: AdamW, weight decay, clipping, dropout, and an optimiser state;
    # otherwise plain SGD, which the Trainer swaps for a general kernel when the recipe needs one
    mask_shape: tuple[int, ...] = ()  # one step's dropout masks (a general kernel's)
    threads: int = 1  # threads run() may use of its own (an ensemble's members); the Trainer sets it per chunk
    row_offset: torch.Tensor  # (B,) flat index of each row's first logit: the Trainer adds it to the targets

    @property
    def cores(self) -> int:
        """The cores run() keeps busy with threads of its own (an ensemble's members); 1: the caller's thread, with
        torch's threads (which the Trainer sets)."""
        return 1

    @abstractmethod
    def run(self, xs: Rows, ys: Rows, logp: torch.Tensor, lrs: Lrs, masks: Rows | None = None) -> None:
        """Steps over inputs xs (n, B*block_size) and flat targets ys (n, B), targets + row_offset; the log
        p(target) of each row into logp (n, B). masks (n, *mask_shape), dropout's, already scaled by 1/(1-p)."""

    def set_config(self, config: TrainConfig) -> None:
        """A live change of the recipe, read from the next chunk on. Plain SGD reads nothing of it (its lr comes
        with each run), so the default ignores it."""
        return None

    def state_dict(self) -> dict:
        """The optimiser's state: AdamW's moments (exp_avg, exp_avg_sq: a tensor per parameter, in the model's
        order) and step count (step), plus an ensemble's member_b2. A single model's kernel hands over its own
        tensors, which its next steps change (clone them to keep them). Plain SGD keeps none: {}."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Copy an optimiser state (state_dict's form) into the kernel's own."""
        raise ValueError(f"the {type(self).__name__} kernel keeps no optimizer state")

    @staticmethod
    def no_masks(masks: Rows | None) -> None:
        """For the SGD kernels, which have no dropout: masks would be silently dropped, so refuse them."""
        if masks is not None:
            raise ValueError("plain SGD kernels take no dropout masks; the general kernels do")


def stack_rows(rows: Rows) -> torch.Tensor:
    """A chunk as one (n, ...) tensor, for the stacked kernels: tuples of rows (the lr finder's) are stacked."""
    return rows if isinstance(rows, torch.Tensor) else torch.stack(rows)


def stack_masks(masks: Rows | None) -> torch.Tensor | None:
    """stack_rows for dropout masks, which may be absent."""
    if masks is None or isinstance(masks, torch.Tensor):
        return masks
    return torch.stack(masks) if masks and masks[0] is not None else None


def step_lrs(lrs: Lrs, n: int) -> list[float]:
    """A chunk of n steps' learning rates, one per step (Lrs may be one rate for the whole chunk)."""
    return [float(lrs)] * n if isinstance(lrs, (int, float)) else lrs


def step_masks(masks: Rows | None, n: int) -> Rows | tuple[None, ...]:
    """A chunk of n steps' dropout masks, one per step: None for each step when there are none."""
    return (None,) * n if masks is None else masks

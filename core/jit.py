"""The lecture's SGD step compiled with numba: many steps per call, no torch dispatch at all.

core.kernels.FusedSGD spends most of its time dispatching ~17 torch calls on tiny tensors. Here a whole
chunk of steps is one call into machine code that works in place on the parameters' own memory (numpy
views of the torch tensors): gathers, bias adds, tanh, softmax and the scatter-add are plain loops,
the six matmuls go to scipy's BLAS through numba's np.dot.

Optional: it needs the `fast` extra (numba and scipy). Without it, or with MLP_TUI_KERNEL=torch in the
environment, make_kernel falls back to FusedSGD, which CI tests too. The numbers agree with FusedSGD
to float32 rounding (~1e-6 after thousands of steps), not bit for bit: tanh here is a rational
approximation (see _tanh) and sums run in another order.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from core.model import MLP

__all__ = ["JitSGD", "available", "make", "why_not"]

_compiled: Any = None  # (step, tanh, numpy) once core.jitsteps is imported
_why_not = ""  # why numba is not used, for `mlp-tui bench`


def available() -> bool:
    """True when numba and scipy import here and MLP_TUI_KERNEL does not ask for the torch kernels."""
    global _why_not
    if os.environ.get("MLP_TUI_KERNEL", "").strip().lower() == "torch":
        _why_not = "MLP_TUI_KERNEL=torch"
        return False
    try:
        _build()
    except ImportError as e:
        _why_not = f"not installed ({e.name or e}); pip install 'mlp-tui[fast]'"
        return False
    except Exception as e:  # a broken install (numba against the wrong numpy, ...) must not stop training
        _why_not = f"numba failed to load: {type(e).__name__}: {e}"
        return False
    return True


def make(model: MLP, batch_size: int) -> JitSGD | None:
    """A JitSGD, or None (why_not() says why) when numba is missing, switched off or fails to compile."""
    global _why_not
    if not available():
        return None
    try:
        return JitSGD(model, batch_size)
    except Exception as e:  # noqa: BLE001  the torch kernel takes over
        _why_not = f"the compiled step failed: {type(e).__name__}: {str(e)[:200]}"
        return None


def why_not() -> str:
    return _why_not


def _build() -> Any:
    """(the compiled step, the tanh it uses, numpy): imports numba and scipy the first time."""
    global _compiled
    if _compiled is None:
        from core import jitsteps

        _compiled = (jitsteps.steps, jitsteps.tanh, jitsteps.np)
    return _compiled


class JitSGD:
    """FusedSGD's contract (run(xs, ys, logp, lrs), row_offset, general=False) on the compiled step.

    `stacked`: the Trainer hands over the chunk's (n, B*block_size) inputs and (n, B) flat targets as
    two tensors instead of tuples of rows; tuples (the lr finder's) are stacked here.
    """

    general = False
    stacked = True
    name = "numba"

    def __init__(self, model: MLP, batch_size: int):
        steps, _, np = _build()
        cfg = model.config
        B, T, E, H, V = batch_size, cfg.block_size, cfg.n_embd, cfg.n_hidden, cfg.vocab_size
        self.B, self.V = B, V
        self.row_offset = torch.arange(B) * V  # flat index of each row's first logit, as FusedSGD
        self._offset = self.row_offset.numpy()
        # numpy views sharing the parameters' memory: updates land in the model itself
        self.params = [p.detach().numpy() for p in (model.C, model.W1, model.b1, model.W2, model.b2)]
        f = np.float32
        self.buffers = [np.empty((B, T * E), f), np.empty((B, H), f), np.empty((B, V), f), np.empty((B, V), f),
                        np.empty((B, H), f), np.empty((B, T * E), f), np.empty((T * E, H), f), np.empty((H, V), f)]
        self._steps, self._np = steps, np
        self._lrs = np.empty(0, f)
        self.run(torch.empty(0, B * T, dtype=torch.long), torch.empty(0, B, dtype=torch.long),
                 torch.empty(0, B), 0.0)  # compile now (or load numba's cache), not inside the first timed chunk

    def run(self, xs: Any, ys: Any, logp: torch.Tensor, lrs: float | list[float]) -> None:
        """Steps over xs (n, B*block_size) and flat targets ys (n, B) (or tuples of rows); log p(target) into logp."""
        np = self._np
        if isinstance(xs, (tuple, list)):
            xs, ys = torch.stack(xs), torch.stack(ys)
        n = len(xs)
        if len(self._lrs) < n:
            self._lrs = np.empty(n, np.float32)
        lr_arr = self._lrs[:n]
        lr_arr[:] = lrs
        X = xs.contiguous().numpy()
        Y = ys.numpy() - self._offset  # (n, B) targets
        out = logp.numpy()
        self._steps(*self.params, X, Y, lr_arr, out, *self.buffers)

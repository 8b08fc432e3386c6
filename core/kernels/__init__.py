"""The kernels: the training step of an MLP, forward, backward and update, without autograd, a chunk of steps
per call. Every one is a core.kernels.base.Kernel; make_kernel picks the fastest for a model and recipe:

- an ensemble (`members` > 1): MembersKernel (core.kernels.members), one of the kernels below per member;
- a vocabulary of WIDE_VOCAB tokens or more (words), any layout whose logits are not batch-normed: WideOut
  (core.kernels.wide: the output side as one matrix, its products on OpenBLAS);
- a layout past the lecture's (layers, hier, batch-normed logits, direct connections): FusedDeep
  (core.kernels.general);
- the lecture's layout without batch norm, with numba installed and not switched off (MLP_TUI_KERNEL=torch):
  the compiled steps of core.kernels.jit, JitSGD for plain SGD (the recipe's fast_path: no dropout, weight
  decay or clipping), else JitGeneral;
- otherwise the torch kernels of core.kernels.lecture: FusedSGD for plain SGD without batch norm, else
  FusedGeneral.
"""

from __future__ import annotations

from core.config import TrainConfig
from core.kernels.base import Kernel
from core.kernels.general import FusedDeep
from core.kernels.jit import make as compiled
from core.kernels.lecture import FusedGeneral, FusedSGD
from core.kernels.members import MembersKernel
from core.kernels.wide import WIDE_VOCAB, WideOut
from core.model import MLP

__all__ = ["Kernel", "make_kernel"]


def make_kernel(model: MLP, config: TrainConfig) -> Kernel:
    """The fastest kernel for this model and recipe (the module's docstring says which, when)."""
    if model.config.members > 1:
        return MembersKernel(model, config, make_kernel)
    if model.config.vocab_size >= WIDE_VOCAB and not model.config.bn_out:
        return WideOut(model, config)  # any layout, the lecture's too: the output side is the step
    if not model.config.lecture_layout:
        return FusedDeep(model, config)
    kernel = compiled(model, config)  # the compiled step (the `fast` extra), else None and the torch one
    if kernel is not None:
        return kernel
    if config.fast_path and not model.config.batchnorm:
        return FusedSGD(model, config.batch_size)
    return FusedGeneral(model, config)

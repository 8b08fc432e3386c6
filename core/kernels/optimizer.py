"""The optimiser side of the general kernels (core.kernels.lecture's FusedGeneral and JitGeneral, core.kernels.general's
FusedDeep): AdamW or SGD with weight decay, gradient clipping, and the state a checkpoint keeps.

A kernel's forward and backward fill self.grads; _update then moves self.params (the model's own tensors) in one
fused AdamW call or one foreach SGD update, with no host sync.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from core.kernels.base import Kernel

if TYPE_CHECKING:
    from core.config import TrainConfig

__all__ = ["GeneralKernel"]


class GeneralKernel(Kernel):
    """A kernel with real gradients: self.params and self.grads (the model's parameters, in order) and the
    recipe self.cfg, read at every step (set_config changes it live)."""

    general = True
    cfg: TrainConfig
    params: list[torch.Tensor]
    grads: list[torch.Tensor]

    def _optimizer_buffers(self) -> None:
        """AdamW's moments and step count, and gradient clipping's buffers, for self.params."""
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.adam_step = torch.zeros(())  # one step count shared by every parameter
        self.adam_steps = [self.adam_step] * len(self.params)
        self.fused_adamw = getattr(torch, "_fused_adamw_", None)
        self.norms = torch.empty(len(self.params))  # gradient clipping's per-parameter norms
        self.clip_coef = torch.empty(())

    def set_config(self, config: TrainConfig) -> None:
        self.cfg = config

    def state_dict(self) -> dict:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "step": self.adam_step}

    def load_state_dict(self, state: dict) -> None:
        if len(state["exp_avg"]) != len(self.params) or len(state["exp_avg_sq"]) != len(self.params):
            raise ValueError(f"{len(state['exp_avg'])} moment tensors for {len(self.params)} parameters")
        for dst, src in zip(self.exp_avg + self.exp_avg_sq, list(state["exp_avg"]) + list(state["exp_avg_sq"])):
            dst.copy_(src)
        self.adam_step.copy_(state["step"])

    def _update(self, lr: float, adamw: bool, wd: float) -> None:
        """Clip if asked, then one optimiser step over every parameter (the gradients are in self.grads)."""
        cfg, params, grads = self.cfg, self.params, self.grads
        if cfg.grad_clip:
            self._clip(cfg.grad_clip)
        if adamw and self.fused_adamw is not None:
            self.adam_step.add_(1)  # the fused op reads the step count; the caller advances it
            self.fused_adamw(params, grads, self.exp_avg, self.exp_avg_sq, [], self.adam_steps, lr=lr,
                             beta1=cfg.beta1, beta2=cfg.beta2, weight_decay=wd, eps=1e-8, amsgrad=False,
                             maximize=False)
        elif adamw:
            self._adamw_foreach(lr)
        else:
            if wd:
                torch._foreach_mul_(params, 1 - lr * wd)
            torch._foreach_add_(params, grads, alpha=-lr)

    def _clip(self, max_norm: float) -> None:
        """Scale the gradients so their total norm is at most max_norm, as clip_grad_norm_ does, on device:
        the factor stays a tensor, so there is no host sync (a few small tensors per step, only when on)."""
        norms = torch._foreach_norm(self.grads)  # one per parameter
        torch.stack(norms, out=self.norms)  # (n_params,)
        total = torch.linalg.vector_norm(self.norms)  # ()
        torch.clamp(max_norm / (total + 1e-6), max=1.0, out=self.clip_coef)
        torch._foreach_mul_(self.grads, self.clip_coef)

    def _adamw_foreach(self, lr: float) -> None:
        """AdamW as torch.optim.AdamW computes it, for a torch without _fused_adamw_."""
        cfg, params = self.cfg, self.params
        self.adam_step.add_(1)
        t = float(self.adam_step)
        if cfg.weight_decay:
            torch._foreach_mul_(params, 1 - lr * cfg.weight_decay)
        torch._foreach_lerp_(self.exp_avg, self.grads, 1 - cfg.beta1)
        torch._foreach_mul_(self.exp_avg_sq, cfg.beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, self.grads, self.grads, 1 - cfg.beta2)
        bc1, bc2 = 1 - cfg.beta1**t, 1 - cfg.beta2**t
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(bc2))
        torch._foreach_add_(denom, 1e-8)
        torch._foreach_addcdiv_(params, self.exp_avg, denom, -lr / bc1)

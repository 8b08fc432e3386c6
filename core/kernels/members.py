"""An ensemble that is one MLP: K members trained side by side, their logits averaged.

The `best` preset's flat MLP stops improving at about 1.96 on the names dev split whatever its
time (2.5, 5 or 10 minutes land within 0.005), while the average of a few independently trained
copies is lower: the members' errors differ. Averaging logits keeps it a single MLP of the lecture's
layout, block-structured: the embedding table and the hidden layer are the members' side by side, W1
joins each member's slice of every context position to its own hidden units only (zeros elsewhere),
and W2 holds each member's output weights over K, so the logits are the members' mean (b2: their mean
bias). Everything that reads a model (evaluation, sampling, scoring, the views, checkpoints) reads that
merged MLP; only training knows the members.

MembersKernel keeps one ordinary kernel per member (compiled or torch, core.kernels.general.make_kernel) on its own
dense copy of the member's weights, folds them into the merged model after every chunk and unfolds
them again when something else wrote the model (a rollback, the best weights put back, a load). Each
member draws its own batches (the Trainer's stream, shifted by a fixed offset into the training set per
member) and its own dropout masks; each keeps its own b2 in the model's buffer member_b2. With
`workers` > 1 (the Trainer's threads) and compiled members, the members of a chunk train on threads of
their own (the compiled step drops the GIL), a core each, while torch keeps to one thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from core.config import TrainConfig
from core.model import MLP, fold, unfold

__all__ = ["MembersKernel", "fold", "unfold"]  # fold, unfold: core.model's

class MembersKernel:
    """The kernel contract (run, row_offset, general, stacked, mask_shape, cfg, state_dict, ...) over one
    kernel per member; see the module's docstring."""

    stacked = True

    def __init__(self, model: MLP, config: TrainConfig, make_kernel: Callable[[MLP, TrainConfig], Any]) -> None:
        """make_kernel (core.kernels.general's) makes each member's own kernel."""
        mc = model.config
        if not (mc.lecture_layout and not mc.batchnorm):
            raise ValueError("members need the lecture's layout: one flat hidden layer, no batch norm, no direct")
        self.K, self.T, self.B = mc.members, mc.block_size, config.batch_size
        self.merged = [p.detach() for p in model.parameters()]  # C, W1, b1, W2, b2
        self.member_b2 = model.member_b2  # (K, V)
        self.models = [MLP(mc.member(), torch.Generator()) for _ in range(self.K)]  # overwritten below
        self.weights = [[p.detach() for p in m.parameters()] for m in self.models]
        unfold(self.merged, self.weights, self.T, self.member_b2)
        self.kernels = [make_kernel(m, config) for m in self.models]
        first = self.kernels[0]
        self.general = first.general
        self.name = getattr(first, "name", "torch")
        self.row_offset = first.row_offset
        self.mask_shape = (self.K, *first.mask_shape) if self.general else ()
        self._inner_stacked = getattr(first, "stacked", False)
        self._versions = self._seen()
        self._pool: ThreadPoolExecutor | None = None
        self.workers = 1  # threads for the members (the Trainer's `threads`)
        self._logp = [torch.empty(0) for _ in range(self.K)]

    # ---- the Trainer's view of the optimiser: the merged model's shapes ----
    @property
    def cfg(self) -> TrainConfig | None:
        return getattr(self.kernels[0], "cfg", None)  # the SGD kernels keep none

    @cfg.setter
    def cfg(self, config: TrainConfig) -> None:  # live changes reach every member
        for k in self.kernels:
            k.cfg = config

    def _merged_moments(self, attr: str) -> list[torch.Tensor]:
        """The members' moments in the merged model's shapes: a second moment of W2 over K^2, as W2 is over K."""
        out = [torch.zeros_like(p) for p in self.merged]
        fold([getattr(k, attr) for k in self.kernels], out, self.T, power=2 if attr == "exp_avg_sq" else 1)
        return out

    @property
    def exp_avg(self) -> list[torch.Tensor]:
        return self._merged_moments("exp_avg")

    @property
    def exp_avg_sq(self) -> list[torch.Tensor]:
        return self._merged_moments("exp_avg_sq")

    @property
    def adam_step(self) -> torch.Tensor:
        return self.kernels[0].adam_step

    def member_state(self) -> dict:
        """Each member's AdamW moments of its own b2 (K, V): the merged moments hold only their mean."""
        return {attr: torch.stack([getattr(k, attr)[4] for k in self.kernels]).clone()
                for attr in ("exp_avg", "exp_avg_sq")}

    def state_dict(self) -> dict:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "step": self.adam_step.clone(),
                "member_b2": self.member_state()}

    def load_state_dict(self, state: dict) -> None:
        if len(state["exp_avg"]) != len(self.merged) or len(state["exp_avg_sq"]) != len(self.merged):
            raise ValueError(f"{len(state['exp_avg'])} moment tensors for {len(self.merged)} parameters")
        for attr in ("exp_avg", "exp_avg_sq"):
            parts = [[torch.empty_like(p) for p in w] for w in self.weights]
            unfold([torch.as_tensor(t) for t in state[attr]], parts, self.T, power=2 if attr == "exp_avg_sq" else 1)
            for kernel, part in zip(self.kernels, parts):
                for dst, src in zip(getattr(kernel, attr), part):
                    dst.copy_(src)
        for kernel in self.kernels:
            kernel.adam_step.copy_(state["step"])
        own = state.get("member_b2")  # absent: every member starts from the mean moments of b2
        if own is not None:
            for k, kernel in enumerate(self.kernels):
                kernel.exp_avg[4].copy_(own["exp_avg"][k])
                kernel.exp_avg_sq[4].copy_(own["exp_avg_sq"][k])

    # ---- training ----
    def _seen(self) -> list[int]:
        """The in-place write counters of the model's tensors: a change means someone else wrote them."""
        return [p._version for p in self.merged] + [self.member_b2._version]

    def run(self, xs: Any, ys: Any, logp: torch.Tensor, lrs: Any, masks: Any = None) -> None:
        """n steps of every member; logp (n, B) gets the members' mean log p(target) of each step.

        xs (K, n, B*block_size) and flat targets ys (K, n, B): each member's own batches (the Trainer's);
        or one batch stream (n, ...) or tuples of rows (the lr finder's), which every member then shares.
        masks (n, K, B, H): each member's dropout masks."""
        if self._seen() != self._versions:  # the model was written from outside: start from it
            unfold(self.merged, self.weights, self.T, self.member_b2)
        if isinstance(xs, (tuple, list)):
            xs, ys = torch.stack(xs), torch.stack(ys)
            if isinstance(masks, (tuple, list)):
                masks = torch.stack(masks) if masks and masks[0] is not None else None
        if xs.dim() == 2:
            xs, ys = xs.expand(self.K, *xs.shape), ys.expand(self.K, *ys.shape)
        n = xs.shape[1]
        jobs = []
        for k, kernel in enumerate(self.kernels):
            xk, yk = xs[k].contiguous(), ys[k].contiguous()
            mk = None if masks is None else masks[:, k].contiguous()  # (n, B, H); drawn step by step, so the
            # masks of a step do not depend on where the chunks begin
            if len(self._logp[k]) < n:
                self._logp[k] = torch.empty(n, self.B)
            lk = self._logp[k][:n]
            if not self._inner_stacked:
                xk, yk = xk.unbind(0), yk.unbind(0)
                mk = None if mk is None else mk.unbind(0)
            args = (xk, yk, lk, lrs) + ((mk,) if self.general else ())
            jobs.append((kernel, args))
        workers = min(self.K, self.workers) if self.name == "numba" else 1  # numba drops the GIL; torch holds it
        try:
            if workers > 1:
                if self._pool is None or self._pool._max_workers != workers:
                    self._pool = ThreadPoolExecutor(workers, thread_name_prefix="mlp-tui-member")
                futures = [self._pool.submit(kernel.run, *args) for kernel, args in jobs]
                errors = [f.exception() for f in futures]  # every member done before anything is raised
                if any(errors):
                    raise next(e for e in errors if e is not None)
            else:
                for kernel, args in jobs:
                    kernel.run(*args)
        except BaseException:
            self._versions = []  # some members moved and some did not: the next run starts from the model
            raise
        torch.mean(torch.stack([lp[:n] for lp in self._logp]), 0, out=logp)
        fold(self.weights, self.merged, self.T, self.member_b2)
        self._versions = self._seen()

"""An ensemble that is one MLP: K members trained side by side, their logits averaged.

The `best` preset's flat MLP stops improving at about 1.96 on the names dev split whatever its
time (2.5, 5 or 10 minutes land within 0.005), while the average of a few independently trained
copies is lower: the members' errors differ. Averaging logits keeps it a single MLP of the lecture's
layout, block-structured: the embedding table and the hidden layer are the members' side by side, W1
joins each member's slice of every context position to its own hidden units only (zeros elsewhere),
and W2 holds each member's output weights over K, so the logits are the members' mean (b2: their mean
bias). Everything that reads a model (evaluation, sampling, scoring, the views, checkpoints) reads that
merged MLP; only training knows the members.

MembersKernel keeps one ordinary kernel per member (compiled or torch, core.kernels.make_kernel) on its own
dense copy of the member's weights, folds them into the merged model after every chunk and unfolds
them again when something else wrote the model (a rollback, the best weights put back, a load). Each
member draws its own batches (the Trainer's stream, shifted by a fixed offset into the training set per
member) and its own dropout masks; each keeps its own b2 in the model's buffer member_b2. With
`threads` > 1 (the Trainer's) and compiled members, the members of a chunk train on threads of their
own (the compiled step drops the GIL), a core each, while torch keeps to one thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

from core.config import TrainConfig
from core.kernels.base import Kernel, Lrs, Rows, stack_masks, stack_rows
from core.model import MLP, fold, unfold

__all__ = ["MembersKernel", "fold", "unfold"]  # fold, unfold: core.model's


class MembersKernel(Kernel):
    """The kernel contract (core.kernels.base) over one kernel per member; see the module's docstring.

    Its name, `general` and mask shape are its members' kernel's; it always takes stacked chunks."""

    stacked = True

    def __init__(self, model: MLP, config: TrainConfig, make_kernel: Callable[[MLP, TrainConfig], Kernel]) -> None:
        """make_kernel (core.kernels') makes each member's own kernel."""
        mc = model.config
        if not (mc.lecture_layout and not mc.batchnorm):
            raise ValueError("members need the lecture's layout: one flat hidden layer, no batch norm, no direct")
        self.K, self.T, self.B = mc.members, mc.block_size, config.batch_size
        self.merged = [p.detach() for p in model.parameters()]  # C, W1, b1, W2, b2
        self.member_b2 = model.member_b2  # (K, V)
        self.models = [MLP(mc.member(), torch.Generator()) for _ in range(self.K)]  # overwritten below
        self.kernels = [make_kernel(m, config) for m in self.models]  # first: a wide kernel re-homes the weights
        self.weights = [[p.detach() for p in m.parameters()] for m in self.models]
        unfold(self.merged, self.weights, self.T, self.member_b2)
        first = self.kernels[0]
        self.general = first.general
        self.name = first.name
        self.row_offset = first.row_offset
        self.mask_shape = (self.K, *first.mask_shape) if self.general else ()
        self._inner_stacked = first.stacked
        self._versions = self._seen()
        self._pool: ThreadPoolExecutor | None = None  # the members' threads, once there are more than one
        self._pool_threads = 0
        self.threads = 1  # threads for the members (the Trainer's `threads`)
        self._logp = [torch.empty(0) for _ in range(self.K)]

    # ---- the Trainer's view of the optimiser: the merged model's shapes ----
    def set_config(self, config: TrainConfig) -> None:  # live changes reach every member
        for k in self.kernels:
            k.set_config(config)

    def _merged_moments(self, key: str) -> list[torch.Tensor]:
        """The members' moments in the merged model's shapes: a second moment of W2 over K^2, as W2 is over K."""
        out = [torch.zeros_like(p) for p in self.merged]
        fold([k.state_dict()[key] for k in self.kernels], out, self.T, power=2 if key == "exp_avg_sq" else 1)
        return out

    def member_state(self) -> dict:
        """Each member's AdamW moments of its own b2 (K, V): the merged moments hold only their mean."""
        return {key: torch.stack([k.state_dict()[key][4] for k in self.kernels]).clone()
                for key in ("exp_avg", "exp_avg_sq")}

    def state_dict(self) -> dict:
        """The merged model's moments (new tensors), the step count, and each member's own moments of b2."""
        if not self.general:
            return {}
        return {"exp_avg": self._merged_moments("exp_avg"), "exp_avg_sq": self._merged_moments("exp_avg_sq"),
                "step": self.kernels[0].state_dict()["step"].clone(), "member_b2": self.member_state()}

    def load_state_dict(self, state: dict) -> None:
        if not self.general:
            super().load_state_dict(state)  # refused: plain SGD members keep no state
        if len(state["exp_avg"]) != len(self.merged) or len(state["exp_avg_sq"]) != len(self.merged):
            raise ValueError(f"{len(state['exp_avg'])} moment tensors for {len(self.merged)} parameters")
        parts = {}
        for key in ("exp_avg", "exp_avg_sq"):
            parts[key] = [[torch.empty_like(p) for p in w] for w in self.weights]
            unfold([torch.as_tensor(t) for t in state[key]], parts[key], self.T,
                   power=2 if key == "exp_avg_sq" else 1)
        own = state.get("member_b2")  # absent: every member starts from the mean moments of b2
        for k, kernel in enumerate(self.kernels):
            mine = {key: parts[key][k] for key in ("exp_avg", "exp_avg_sq")}
            if own is not None:
                for key in mine:
                    mine[key][4] = own[key][k]
            kernel.load_state_dict({**mine, "step": state["step"]})

    # ---- training ----
    @property
    def cores(self) -> int:
        """The members' threads: one each up to `threads` when compiled (numba drops the GIL); torch holds it: one."""
        return min(self.K, self.threads) if self.name == "numba" else 1

    def _seen(self) -> list[int]:
        """The in-place write counters of the model's tensors: a change means someone else wrote them."""
        return [p._version for p in self.merged] + [self.member_b2._version]

    def run(self, xs: Rows, ys: Rows, logp: torch.Tensor, lrs: Lrs, masks: Rows | None = None) -> None:
        """n steps of every member; logp (n, B) gets the members' mean log p(target) of each step.

        xs (K, n, B*block_size) and flat targets ys (K, n, B): each member's own batches (the Trainer's);
        or one batch stream (n, ...) or tuples of rows (the lr finder's), which every member then shares.
        masks (n, K, B, H): each member's dropout masks."""
        if self._seen() != self._versions:  # the model was written from outside: start from it
            unfold(self.merged, self.weights, self.T, self.member_b2)
        xs, ys, masks = stack_rows(xs), stack_rows(ys), stack_masks(masks)
        if xs.dim() == 2:
            xs, ys = xs.expand(self.K, *xs.shape), ys.expand(self.K, *ys.shape)
        n = xs.shape[1]
        jobs: list[tuple[Kernel, tuple]] = []
        for k, kernel in enumerate(self.kernels):
            xk, yk = xs[k].contiguous(), ys[k].contiguous()
            mk = None if masks is None else masks[:, k].contiguous()  # (n, B, H); drawn step by step, so the
            # masks of a step do not depend on where the chunks begin
            if len(self._logp[k]) < n:
                self._logp[k] = torch.empty(n, self.B)
            lk = self._logp[k][:n]
            if self._inner_stacked:
                jobs.append((kernel, (xk, yk, lk, lrs, mk)))
            else:
                jobs.append((kernel, (xk.unbind(0), yk.unbind(0), lk, lrs, None if mk is None else mk.unbind(0))))
        threads = self.cores
        try:
            if threads > 1:
                if self._pool is None or self._pool_threads != threads:
                    self._pool = ThreadPoolExecutor(threads, thread_name_prefix="mlp-tui-member")
                    self._pool_threads = threads
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

"""The training kernel of a model with a large vocabulary (word tokens: |V| in the thousands), where the output
side is nearly all of the work: 96% of the weights of the paper's MLP1 on a 16K-word vocabulary, and its three
big matmuls nearly all of the step.

It is core.kernels.general's FusedDeep with the output side done as one product each way:
- the output weights, the direct connections and the output bias are one matrix Wout = [Wd ; W_out ; b_out]
  (rows), the model's parameters being views of it (join_output), and the input of the output side one matrix
  xcat = [embeddings | last hidden layer | 1] (B, K). The logits are xcat @ Wout, one product of depth K where
  there were two (depth T*E and a shallow, memory-bound one of depth n_hidden) and a bias pass; the three
  weights' gradients are xcat^T @ dlogits, one product; the inputs' gradients dlogits @ Wout^T, one product.
- the mean's 1/B is applied to xcat and to the inputs' gradients, (B, K) each, not to the (B, V) dlogits;
- the three products go to OpenBLAS (core.kernels.blas: faster than torch's MKL on this CPU at these shapes).

Only the vocabulary-sized work changes; the hidden layers are FusedDeep's own code. The loss is the exact full
softmax. Checked against autograd in tests/unit/test_wide.py.
"""

from __future__ import annotations

import torch

from core.config import TrainConfig
from core.kernels.base import Lrs, Rows, step_lrs, step_masks
from core.kernels.blas import Gemm
from core.kernels.general import FusedDeep
from core.model import MLP

__all__ = ["WIDE_VOCAB", "WideOut", "join_output", "output_names"]

WIDE_VOCAB = 1024  # make_kernel gives a model this kernel from this vocabulary size on (characters stay on FusedDeep)


def output_names(model: MLP) -> list[str]:
    """The parameters of the output side in Wout's row order: Wd (direct), the output layer's W, its bias."""
    out = model.layers[-1]
    return (["Wd"] if model.config.direct else []) + [out.W, out.b]


@torch.no_grad()
def join_output(model: MLP) -> torch.Tensor:
    """Wout (K, V): the output side's parameters as row blocks of one matrix, the model's parameters made views of
    it (their values kept). A model already joined keeps its matrix; any other change of its storage rejoins."""
    params = [getattr(model, n) for n in output_names(model)]
    V = model.config.vocab_size
    K = sum(p.numel() for p in params) // V
    base = params[0]
    storage = base.untyped_storage()
    offsets = [base.storage_offset()]
    for p in params[:-1]:
        offsets.append(offsets[-1] + p.numel())
    if (base.storage_offset() == 0 and storage.nbytes() == K * V * base.element_size()
            and all(p.untyped_storage().data_ptr() == storage.data_ptr() and p.storage_offset() == o
                    and p.is_contiguous() for p, o in zip(params, offsets))):
        return torch.empty(0).set_(storage, 0, (K, V), (V, 1))  # (K, V) already joined
    Wout = torch.empty(K, V)
    row = 0
    for p in params:
        rows = p.numel() // V
        Wout[row:row + rows].copy_(p.view(rows, V))
        p.data = Wout[row] if p.dim() == 1 else Wout[row:row + rows]  # the bias is one row, (V,)
        row += rows
    return Wout  # (K, V)


class WideOut(FusedDeep):
    """FusedDeep for a large vocabulary: the output side as one (B, K) @ (K, V) product each way (the module's
    docstring). Any plan of hidden layers; the logits must not be batch-normed (make_kernel keeps those on
    FusedDeep)."""

    def __init__(self, model: MLP, config: TrainConfig, library: str = "openblas") -> None:
        mc = model.config
        plan = mc.plan()
        out = plan[-1]
        if out.bn:
            raise ValueError("WideOut needs logits without batch norm")
        B, T, E, V = config.batch_size, mc.block_size, mc.n_embd, mc.vocab_size
        self.cfg, self.B, self.V = config, B, V
        self.Wout = join_output(model)  # (K, V): before the parameters are read below
        K = self.Wout.shape[0]
        self.TE = T * E if mc.direct else 0  # xcat's columns: [embeddings (direct only) | hidden | 1]
        self.F = out.fan_in
        self.names = [n for n, _ in model.named_parameters()]
        self.params = [p.detach() for p in model.parameters()]
        self.gWout = torch.zeros(K, V)  # the output side's gradients, as Wout's rows
        views = dict(zip(output_names(model), self._rows(self.gWout, model)))
        self.grads = [views[n] if n in views else torch.zeros_like(p) for n, p in zip(self.names, self.params)]
        grads = dict(zip(self.names, self.grads))
        self._hidden_side(model, plan, grads)
        self.xcat = torch.ones(B, K)  # (B, K) [embeddings | hidden | 1]: the last column stays 1
        self.xs = torch.empty(B, K)  # xcat / B
        self.dx = torch.empty(B, K)  # the inputs' gradients
        TE, F = self.TE, self.F
        self.x_emb, self.x_hid = self.xcat[:, :TE], self.xcat[:, TE:TE + F]  # (B, TE), (B, F) views
        self.dx_emb, self.dx_hid = self.dx[:, :TE], self.dx[:, TE:TE + F]
        self.lp = torch.empty(B, V)  # (B, V) log-probabilities
        self.dl = torch.empty(B, V)  # (B, V) dlogits of the summed loss: softmax - one-hot
        self.gemm = Gemm(library)
        self.name = self.gemm.name  # "openblas", or "torch" where numpy's OpenBLAS is not to be had
        self.logits = self.gemm.product(self.xcat, self.Wout, self.dl)  # the logits, into dl's memory
        self.weight_grads = self.gemm.product(self.xs.t(), self.dl, self.gWout)  # (K, V)
        self.input_grads = self.gemm.product(self.dl, self.Wout.t(), self.dx)  # (B, K)
        self._optimizer_buffers()

    @staticmethod
    def _rows(matrix: torch.Tensor, model: MLP) -> list[torch.Tensor]:
        """matrix's row blocks in the shapes of the output side's parameters (output_names' order)."""
        views, row = [], 0
        for name in output_names(model):
            p = getattr(model, name)
            rows = p.numel() // matrix.shape[1]
            views.append(matrix[row] if p.dim() == 1 else matrix[row:row + rows])
            row += rows
        return views

    @torch.no_grad()
    def run(self, xs: Rows, ys: Rows, logp: torch.Tensor, lrs: Lrs, masks: Rows | None = None) -> None:
        """As FusedDeep.run: steps over xs[i] (B*block_size,), flat targets ys[i] (B,); log p(target) into logp[i]."""
        cfg = self.cfg
        adamw, wd = cfg.optimizer == "adamw", cfg.weight_decay
        lrs, each_mask = step_lrs(lrs, len(xs)), step_masks(masks, len(xs))
        self.gemm.set_threads(self.threads)
        inv_b, B, F = 1.0 / self.B, self.B, self.F
        for xi, yi, li, lr, mask in zip(xs, ys, logp.unbind(0), lrs, each_mask):
            parts = mask.split(self.mask_sizes) if mask is not None else (None,) * len(self.hidden)
            x = self._hidden_forward(xi, parts)
            self.x_hid.copy_(x.view(B, F))
            if self.TE:
                self.x_emb.copy_(self.embv)
            self.logits()  # dl = xcat @ Wout: the logits, (B, V)
            torch.log_softmax(self.dl, 1, out=self.lp)  # (B, V)
            torch.take(self.lp, yi, out=li)
            torch.exp(self.lp, out=self.dl)
            self.dl.put_(yi, self.minus1, accumulate=True)  # dlogits of the summed loss, (B, V)
            torch.mul(self.xcat, inv_b, out=self.xs)  # the mean's 1/B, on the (B, K) side
            self.weight_grads()  # gWout = xs^T @ dl, (K, V): Wd's, W's and b's gradients
            self.input_grads()  # dx = dl @ Wout^T, (B, K)
            self.dx.mul_(inv_b)
            self.hidden[-1].dh.view(B, F).copy_(self.dx_hid)
            self._hidden_backward(parts)
            self._table_grad(xi, self.dx_emb if self.TE else None)
            self._update(lr, adamw, wd)

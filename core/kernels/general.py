"""The training kernel of every layout past the lecture's: several hidden layers (makemore part 3), the
hierarchical model (part 5), batch norm on the logits, direct connections.

The same approach as core.kernels.lecture: a hand-written forward and backward pass over preallocated buffers,
no autograd and no host sync, one fused AdamW call (or one foreach SGD update) for all parameters.
It walks the layers of config.plan(): a layer's input is the previous layer's output viewed as
(batch x rows, fan_in), which for the hierarchical model puts each pair of neighbours in one row, so
flat and hier are the same loop. Checked against autograd in tests/unit/test_deep.py.
"""

from __future__ import annotations

import torch

from core.config import Layer, TrainConfig
from core.kernels.base import Lrs, Rows, step_lrs, step_masks
from core.kernels.optimizer import GeneralKernel
from core.model import BN_EPS, BN_MOMENTUM, MLP

__all__ = ["FusedDeep", "LayerBuffers"]


class LayerBuffers:
    """One Linear layer's working memory for a batch: its rows are batch x layer.rows."""

    def __init__(self, model: MLP, layer: Layer, B: int, grads: dict[str, torch.Tensor]) -> None:
        n, w = B * layer.rows, layer.width
        self.layer, self.n = layer, n
        self.W = getattr(model, layer.W).detach()
        self.WT = self.W.t()
        self.gW = grads[layer.W]
        self.b = getattr(model, layer.b).detach() if layer.bias else None
        self.gb = grads.get(layer.b)
        self.a = torch.empty(n, w)  # (n, width) pre-activation, then xhat under batch norm
        self.h = torch.empty(n, w)  # (n, width) output (tanh, or the logits)
        self.hd = torch.empty(n, w)  # (n, width) after dropout
        self.hh = torch.empty(n, w)  # scratch
        self.dh = torch.empty(n, w)  # (n, width) gradient at the output
        self.ones = torch.ones(n)
        self.x = self.a  # the input as the layer last read it, (n, fan_in); set by each forward pass
        self.m1 = torch.full((n, w), -1.0)
        if layer.bn:
            self.gain = getattr(model, layer.bn_name("bngain")).detach()
            self.beta = getattr(model, layer.bn_name("bnbias")).detach()
            self.ggain, self.gbeta = grads[layer.bn_name("bngain")], grads[layer.bn_name("bnbias")]
            self.running_mean = getattr(model, layer.bn_name("running_mean"))
            self.running_var = getattr(model, layer.bn_name("running_var"))
            self.mean, self.invstd = torch.empty(w), torch.empty(w)  # the batch's, saved for the backward


class FusedDeep(GeneralKernel):
    """Steps of any layout of core.config's plan(), for SGD and AdamW, with dropout after each tanh; the
    optimiser side is core.kernels.optimizer's, over this layout's parameters."""

    def __init__(self, model: MLP, config: TrainConfig) -> None:
        mc = model.config
        B, T, E, V = config.batch_size, mc.block_size, mc.n_embd, mc.vocab_size
        self.cfg, self.B, self.V = config, B, V
        self.names = [n for n, _ in model.named_parameters()]
        self.params = [p.detach() for p in model.parameters()]
        self.grads = [torch.zeros_like(p) for p in self.params]
        grads = dict(zip(self.names, self.grads))
        plan = mc.plan()
        self._hidden_side(model, plan, grads)
        self.out = LayerBuffers(model, plan[-1], B, grads)
        self.direct = mc.direct
        if mc.direct:
            self.Wd, self.gWd = model.Wd.detach(), grads["Wd"]
            self.WdT, self.embT = self.Wd.t(), self.embv.t()
            self.ddirect = torch.empty(B, T * E)
        self._optimizer_buffers()

    def _hidden_side(self, model: MLP, plan: list[Layer], grads: dict[str, torch.Tensor]) -> None:
        """What _hidden_forward and _hidden_backward work in, and the targets' side: the embedding table and its
        gradient, the step's embeddings and theirs, each hidden layer's buffers (plan's all but the last), the
        dropout masks' layout. Needs self.B and self.V."""
        mc, B, V = model.config, self.B, self.V
        T, E = mc.block_size, mc.n_embd
        self.C, self.gC = model.C.detach(), grads["C"]
        self.hidden = [LayerBuffers(model, layer, B, grads) for layer in plan[:-1]]
        self.emb = torch.empty(B * T, E)  # (B*block_size, n_embd)
        self.embv = self.emb.view(B, T * E)  # (B, block_size*n_embd)
        self.demb = torch.empty(B * T, E)
        self.dembv = self.demb.view(B, T * E)
        self.minus1 = torch.full((B,), -1.0)
        self.row_offset = torch.arange(B) * V  # flat index of each row's first logit
        # dropout: one mask per hidden layer and step, all drawn at once by the Trainer
        self.mask_sizes = [buf.n * buf.layer.width for buf in self.hidden]
        self.mask_shape = (sum(self.mask_sizes),)

    @torch.no_grad()
    def run(self, xs: Rows, ys: Rows, logp: torch.Tensor, lrs: Lrs, masks: Rows | None = None) -> None:
        """Steps over batches xs[i] (B*block_size,), flat targets ys[i] (B,); log p(target) into logp[i].

        masks[i] is step i's dropout masks, every hidden layer's one after the other (mask_shape)."""
        cfg = self.cfg
        adamw, wd = cfg.optimizer == "adamw", cfg.weight_decay
        lrs, each_mask = step_lrs(lrs, len(xs)), step_masks(masks, len(xs))
        inv_b = 1.0 / self.B
        out = self.out
        for xi, yi, li, lr, mask in zip(xs, ys, logp.unbind(0), lrs, each_mask):
            parts = mask.split(self.mask_sizes) if mask is not None else (None,) * len(self.hidden)
            x = self._hidden_forward(xi, parts)
            out.x = x.view(out.n, out.layer.fan_in)  # (B, H)
            logits = self._linear(out, out.x)  # (B, V)
            if self.direct:
                logits.addmm_(self.embv, self.Wd)  # added after the logits' batch norm, as in MLP.forward
            lp = torch.log_softmax(logits, 1)  # (B, V)
            dl = out.dh  # (read each step: a batch-normed layer swaps its two gradient buffers)
            torch.take(lp, yi, out=li)
            torch.exp(lp, out=dl)
            dl.put_(yi, self.minus1, accumulate=True)
            dl.mul_(inv_b)  # dlogits of the mean loss, (B, V)
            if self.direct:  # before the logits' batch norm turns dl into the gradient under it
                torch.mm(self.embT, dl, out=self.gWd)  # (T*E, V)
                torch.mm(dl, self.WdT, out=self.ddirect)  # (B, T*E)
            if out.layer.bn:
                self._bn_backward(out)
            below = self.hidden[-1].dh if self.hidden else self.demb
            self._backward(out, below)
            self._hidden_backward(parts)
            self._table_grad(xi, self.ddirect if self.direct else None)
            self._update(lr, adamw, wd)

    def _hidden_forward(self, xi: torch.Tensor, parts: tuple) -> torch.Tensor:
        """The embeddings of the step's inputs xi (B*block_size,) through every hidden layer (parts: each one's
        dropout mask, or None); returns the last one's output, what the output side reads."""
        torch.index_select(self.C, 0, xi, out=self.emb)  # (B*T, E)
        x = self.emb
        for buf, m in zip(self.hidden, parts):
            x = self._forward(buf, x.view(buf.n, buf.layer.fan_in), m)  # (B*rows, H)
        return x

    def _hidden_backward(self, parts: tuple) -> None:
        """From the gradient at the last hidden layer's output (its dh) down to the embeddings' (self.demb)."""
        for i in range(len(self.hidden) - 1, -1, -1):
            buf, part = self.hidden[i], parts[i]
            if part is not None:
                buf.dh.view(-1).mul_(part)  # through dropout
            torch.mul(buf.h, buf.h, out=buf.hh)
            buf.dh.addcmul_(buf.dh, buf.hh, value=-1)  # through tanh: * (1 - h^2)
            if buf.layer.bn:
                self._bn_backward(buf)
            self._backward(buf, self.hidden[i - 1].dh if i > 0 else self.demb)

    def _table_grad(self, xi: torch.Tensor, direct: torch.Tensor | None) -> None:
        """C's gradient: the step's embeddings' (self.demb, from _hidden_backward, plus `direct`, the direct
        connections' (B, block_size*n_embd), if any), added up per row of C that xi read."""
        if direct is not None:
            self.dembv.add_(direct)
        self.gC.zero_()
        self.gC.index_add_(0, xi, self.demb)  # (V, E)

    def _linear(self, buf: LayerBuffers, x: torch.Tensor) -> torch.Tensor:
        """buf.h = x @ W (+ b), batch-normed if the layer is; x is (n, fan_in).

        Batch norm is torch's own native op, with the running statistics updated inside it: one call where
        the ten small ops of core.kernels.lecture's version cost more than the matmul itself on these shapes."""
        if not buf.layer.bn:
            if buf.b is not None:
                torch.addmm(buf.b, x, buf.W, out=buf.h)  # (n, width)
            else:
                torch.mm(x, buf.W, out=buf.h)
            return buf.h
        torch.mm(x, buf.W, out=buf.a)  # (n, width) pre-activation (no bias before batch norm)
        torch.native_batch_norm(buf.a, buf.gain, buf.beta, buf.running_mean, buf.running_var, True, BN_MOMENTUM,
                                BN_EPS, out=(buf.h, buf.mean, buf.invstd))
        return buf.h

    def _forward(self, buf: LayerBuffers, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """One hidden layer: Linear (+ batch norm), tanh, dropout; returns what the next layer reads."""
        buf.x = x  # (n, fan_in), for the weights' gradient
        h = self._linear(buf, x)
        h.mul_(2).sigmoid_()
        torch.add(buf.m1, h, alpha=2, out=h)  # tanh = 2*sigmoid(2x) - 1
        if mask is None:
            return h
        torch.mul(h.view(-1), mask, out=buf.hd.view(-1))
        return buf.hd

    @staticmethod
    def _backward(buf: LayerBuffers, below: torch.Tensor) -> None:
        """From the gradient at the pre-activations (buf.dh): the weights' gradients, and into `below` (the
        gradient buffer of the layer underneath, or of the embeddings) the input's, before W moves."""
        torch.mm(buf.x.t(), buf.dh, out=buf.gW)  # (fan_in, width)
        if buf.gb is not None:
            torch.mv(buf.dh.t(), buf.ones, out=buf.gb)
        torch.mm(buf.dh, buf.WT, out=below.view(buf.n, buf.layer.fan_in))  # (n, fan_in)

    @staticmethod
    def _bn_backward(buf: LayerBuffers) -> None:
        """buf.dh (at the normalised output) becomes the gradient at the pre-activations, and the gain's and
        bias's gradients are filled: torch's native backward, into buf.hh, then swapped into place."""
        torch.ops.aten.native_batch_norm_backward.out(
            buf.dh, buf.a, buf.gain, buf.running_mean, buf.running_var, buf.mean, buf.invstd, True, BN_EPS,
            [True, True, True], out0=buf.hh, out1=buf.ggain, out2=buf.gbeta)
        buf.dh, buf.hh = buf.hh, buf.dh  # (n, width) each: the gradient now lives in the other buffer

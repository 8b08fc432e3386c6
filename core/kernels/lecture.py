"""The training kernels: one step of the MLP, forward, backward and update, without autograd.

A hand-written pass for the lecture's layout, with the parameter update fused into the gradient matmuls
(FusedSGD: 19 small torch calls per step) or one fused AdamW call (FusedGeneral, core.kernels.optimizer),
and every buffer preallocated: no host sync. Used by the Trainer (core.engine.train) and by the lr finder
(core.probes.inspection); checked against autograd in the tests.
"""

from __future__ import annotations

import math

import torch

from core.config import TrainConfig
from core.kernels.base import Kernel, Lrs, Rows, step_lrs, step_masks
from core.kernels.optimizer import GeneralKernel
from core.model import BN_EPS, BN_MOMENTUM, MLP

__all__ = ["FusedGeneral", "FusedSGD", "dropout_masks"]


def dropout_masks(gen: torch.Generator, shape: tuple[int, ...], p: float) -> torch.Tensor:
    """Inverted-dropout masks (keep with probability 1-p, scaled by 1/(1-p)), as F.dropout applies them.

    Drawn from 16-bit slices of 64-bit random integers: ~11x cheaper than bernoulli_ (which cost a
    third of the step time of a 512-unit model); the keep probability is rounded to 1/65536.
    """
    count = math.prod(shape)
    thr = max(1, round((1 - p) * 65536))  # keep an element when its 16-bit draw is below this
    r = torch.randint(-(2**63), 2**63 - 1, ((count + 3) // 4,), generator=gen, dtype=torch.int64)
    r16 = r.view(torch.int16)[:count].view(shape)  # uniform over [-32768, 32767]
    m = torch.empty(shape)
    torch.lt(r16, thr - 32768, out=m)  # 1.0 keep, 0.0 drop
    return m.mul_(65536 / thr)  # (*shape,)


class FusedSGD(Kernel):
    """One SGD step of the MLP without autograd: forward, backward and update on fixed buffers.

    tanh(x) is computed as 2*sigmoid(2x) - 1 (torch.tanh is ~5x slower on these shapes), and the
    factor -lr/B is folded into dlogits so every later gradient arrives already scaled for the update.
    """

    def __init__(self, model: MLP, batch_size: int):
        cfg = model.config
        B, T, E, H, V = batch_size, cfg.block_size, cfg.n_embd, cfg.n_hidden, cfg.vocab_size
        self.B, self.V = B, V
        self.C, self.W1, self.b1, self.W2, self.b2 = (
            p.detach() for p in (model.C, model.W1, model.b1, model.W2, model.b2)
        )
        self.W1T, self.W2T = self.W1.t(), self.W2.t()
        self.emb = torch.empty(B * T, E)  # (B*block_size, n_embd)
        self.embv = self.emb.view(B, T * E)  # (B, block_size*n_embd)
        self.embT = self.embv.t()
        self.h = torch.empty(B, H)  # (B, n_hidden)
        self.hT = self.h.t()
        self.hh = torch.empty(B, H)
        self.m1 = torch.full((B, H), -1.0)
        self.logits = torch.empty(B, V)  # (B, vocab)
        self.dl = torch.empty(B, V)
        self.dlT = self.dl.t()
        self.dh = torch.empty(B, H)
        self.dhT = self.dh.t()
        self.demb = torch.empty(B, T * E)
        self.demb_rows = self.demb.view(B * T, E)  # (B*block_size, n_embd)
        self.ones = torch.ones(B)
        self.minus1 = torch.full((B,), -1.0)
        self.row_offset = torch.arange(B) * V  # flat index of each row's first logit

    @torch.no_grad()
    def run(self, xs: Rows, ys: Rows, logp: torch.Tensor, lrs: Lrs, masks: Rows | None = None) -> None:
        """Steps over batches xs[i] (B*block_size,) and flat targets ys[i] (B,); log p(target) into logp[i].

        lrs is one learning rate for all the steps or one per step. No dropout: masks must be None.
        """
        self.no_masks(masks)
        C, W1, b1, W2, b2, W1T, W2T = self.C, self.W1, self.b1, self.W2, self.b2, self.W1T, self.W2T
        emb, embv, embT, h, hT, hh, m1 = self.emb, self.embv, self.embT, self.h, self.hT, self.hh, self.m1
        logits, dl, dlT, dh, dhT = self.logits, self.dl, self.dlT, self.dh, self.dhT
        demb, demb_rows, ones, minus1 = self.demb, self.demb_rows, self.ones, self.minus1
        lrs = step_lrs(lrs, len(xs))
        scale = -1.0 / self.B
        for xi, yi, li, lr in zip(xs, ys, logp.unbind(0), lrs):
            torch.index_select(C, 0, xi, out=emb)  # (B*T, E)
            torch.addmm(b1, embv, W1, beta=2, alpha=2, out=h)  # (B, H) 2 * pre-activation
            h.sigmoid_()
            torch.add(m1, h, alpha=2, out=h)  # tanh = 2*sigmoid(2x) - 1
            torch.addmm(b2, h, W2, out=logits)  # (B, V)
            lp = torch.log_softmax(logits, 1)  # (B, V)
            torch.take(lp, yi, out=li)  # (B,) log-probability of each target
            torch.exp(lp, out=dl)  # softmax
            dl.put_(yi, minus1, accumulate=True)  # softmax - onehot
            dl.mul_(lr * scale)  # -lr/B * dlogits: every gradient below arrives scaled for the update
            torch.mm(dl, W2T, out=dh)  # (B, H) before W2 moves
            W2.addmm_(hT, dl)  # W2 -= lr * dW2
            b2.addmv_(dlT, ones)
            torch.mul(h, h, out=hh)
            dh.addcmul_(dh, hh, value=-1)  # through tanh: * (1 - h^2)
            torch.mm(dh, W1T, out=demb)  # (B, T*E) before W1 moves
            W1.addmm_(embT, dh)
            b1.addmv_(dhT, ones)
            C.index_add_(0, xi, demb_rows)  # gathered embedding gradient


class FusedGeneral(GeneralKernel, FusedSGD):
    """The same hand-written forward and backward, with real gradients for AdamW, weight decay, dropout.

    Gradients go to preallocated buffers and one `torch._fused_adamw_` call updates all five
    parameters (~11 us, against ~150 us for torch.optim.AdamW's foreach step). Dropout masks for a
    whole chunk are drawn in one call by the Trainer (a mask per step halves the speed).
    """

    def __init__(self, model: MLP, config: TrainConfig):
        super().__init__(model, config.batch_size)
        self.cfg = config
        B, H = config.batch_size, model.config.n_hidden
        self.mask_shape = (B, H)  # one dropout mask per step
        self.bn = model.config.batchnorm
        self.params = [p.detach() for p in model.parameters()]  # C, W1, b1, W2, b2 (, bngain, bnbias)
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.gC, self.gW1, self.gb1, self.gW2, self.gb2 = self.grads[:5]
        if self.bn:
            self.bngain, self.bnbias = self.params[5:]
            self.gbngain, self.gbnbias = self.grads[5:]
            self.running_mean, self.running_var = model.running_mean, model.running_var
            self.xhat = torch.empty(B, H)  # (B, H) normalised pre-activations
            self.bessel = B / max(1, B - 1)
        self.hd = torch.empty(B, H)  # (B, H) dropped-out activations
        self.hdT = self.hd.t()
        self._optimizer_buffers()

    @torch.no_grad()
    def run(self, xs: Rows, ys: Rows, logp: torch.Tensor, lrs: Lrs, masks: Rows | None = None) -> None:
        """As FusedSGD.run; masks[i] (B, H) is step i's dropout mask, already scaled by 1/(1-p)."""
        C, W1, b1, W2, b2, W1T, W2T = self.C, self.W1, self.b1, self.W2, self.b2, self.W1T, self.W2T
        emb, embv, embT, h, hh, m1 = self.emb, self.embv, self.embT, self.h, self.hh, self.m1
        logits, dl, dlT, dh, dhT = self.logits, self.dl, self.dlT, self.dh, self.dhT
        demb, demb_rows, ones, minus1 = self.demb, self.demb_rows, self.ones, self.minus1
        gC, gW1, gb1, gW2, gb2 = self.grads[:5]
        bn = self.bn
        cfg = self.cfg
        adamw = cfg.optimizer == "adamw"
        wd = cfg.weight_decay
        lrs, each_mask = step_lrs(lrs, len(xs)), step_masks(masks, len(xs))
        inv_b = 1.0 / self.B
        for xi, yi, li, lr, mask in zip(xs, ys, logp.unbind(0), lrs, each_mask):
            torch.index_select(C, 0, xi, out=emb)  # (B*T, E)
            if bn:
                invstd = self._bn_forward()
            else:
                torch.addmm(b1, embv, W1, beta=2, alpha=2, out=h)  # (B, H)
                h.sigmoid_()
                torch.add(m1, h, alpha=2, out=h)  # tanh
            if mask is not None:
                torch.mul(h, mask, out=self.hd)  # (B, H) dropout
                hin, hinT = self.hd, self.hdT
            else:
                hin, hinT = h, self.hT
            torch.addmm(b2, hin, W2, out=logits)  # (B, V)
            lp = torch.log_softmax(logits, 1)
            torch.take(lp, yi, out=li)
            torch.exp(lp, out=dl)
            dl.put_(yi, minus1, accumulate=True)
            dl.mul_(inv_b)  # dlogits of the mean loss
            torch.mm(hinT, dl, out=gW2)  # (H, V)
            torch.mv(dlT, ones, out=gb2)
            torch.mm(dl, W2T, out=dh)  # (B, H)
            if mask is not None:
                dh.mul_(mask)
            torch.mul(h, h, out=hh)
            dh.addcmul_(dh, hh, value=-1)  # through tanh
            if bn:
                self._bn_backward(invstd)
            torch.mm(embT, dh, out=gW1)  # (T*E, H)
            if not bn:  # under batch norm b1's gradient is 0 up to rounding, which Adam would amplify
                torch.mv(dhT, ones, out=gb1)
            torch.mm(dh, W1T, out=demb)  # (B, T*E)
            gC.zero_()
            gC.index_add_(0, xi, demb_rows)  # (V, E)
            self._update(lr, adamw, wd)

    def _bn_forward(self) -> torch.Tensor:
        """h = tanh(bngain * xhat + bnbias) with batch statistics; updates the running ones. Returns 1/std."""
        xhat, h = self.xhat, self.h
        torch.addmm(self.b1, self.embv, self.W1, out=xhat)  # (B, H) pre-activations
        var, mean = torch.var_mean(xhat, 0, correction=0)  # (H,) each
        invstd = torch.rsqrt(var + BN_EPS)  # (H,)
        self.running_mean.lerp_(mean, BN_MOMENTUM)
        self.running_var.lerp_(var.mul_(self.bessel), BN_MOMENTUM)
        xhat.sub_(mean).mul_(invstd)  # (B, H)
        torch.addcmul(self.bnbias, xhat, self.bngain, out=h)
        h.mul_(2).sigmoid_()
        torch.add(self.m1, h, alpha=2, out=h)  # tanh
        return invstd

    def _bn_backward(self, invstd: torch.Tensor) -> None:
        """dh (gradient at the normalised output) becomes the gradient at the pre-activations.

        dx = gain * invstd / B * (B * dy - sum(dy) - xhat * sum(dy * xhat)), as in makemore part 4.
        """
        dh, xhat, hh, B = self.dh, self.xhat, self.hh, self.B
        torch.sum(dh, 0, out=self.gbnbias)  # (H,)
        torch.mul(dh, xhat, out=hh)
        torch.sum(hh, 0, out=self.gbngain)  # (H,)
        torch.mul(xhat, self.gbngain, out=hh)  # (B, H)
        dh.mul_(B).sub_(self.gbnbias).sub_(hh).mul_(self.bngain * invstd / B)

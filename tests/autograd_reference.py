"""The autograd reference the hand-written kernels are checked against (tests/unit/test_train.py, test_optim.py,
test_deep.py): the forward written out layer by layer from the model's weights, torch's cross-entropy,
loss.backward() and a torch.optim step. One flat layer is the lecture's tanh(emb @ W1 + b1) @ W2 + b2."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.config import TrainConfig
from core.model import MLP


def reference_logits(model: MLP, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B, vocab) logits for contexts X (B, block_size); `mask` (every hidden unit of every hidden layer, flat, in
    layer order) multiplies each tanh output, as inverted dropout does (it holds 0 or 1/(1-p))."""
    emb = model.C[X]  # (B, block_size, n_embd)
    B = emb.shape[0]
    x = emb
    offset = 0
    for layer in model.layers[:-1]:
        x = torch.tanh(model.linear(layer, x.reshape(B * layer.rows, layer.fan_in)))  # (B*rows, width)
        if mask is not None:
            x = x * mask.reshape(-1)[offset: offset + x.numel()].view_as(x)
            offset += x.numel()
    logits = model.linear(model.layers[-1], x.view(B, -1))  # (B, vocab)
    if model.config.direct:
        logits = logits + emb.view(B, -1) @ model.Wd
    return logits


def reference_step(model: MLP, opt: torch.optim.Optimizer, X: torch.Tensor, Y: torch.Tensor,
                   mask: torch.Tensor | None = None) -> float:
    """One autograd step: reference_logits, F.cross_entropy, backward, opt.step(); the step's loss."""
    loss = F.cross_entropy(reference_logits(model, X, mask), Y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def reference_optimizer(model: MLP, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """torch.optim's counterpart of cfg's optimiser: AdamW with its betas and weight decay, or plain SGD."""
    params = list(model.parameters())
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=lr, weight_decay=0.0)

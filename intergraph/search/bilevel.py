"""The DARTS structure gradient (Liu et al. 2019), first or second order, written with ordinary backward passes.

Every gradient comes from ``backward(loss)`` (e.g. Lightning's ``manual_backward``), never from
``torch.autograd.grad``, so under DistributedDataParallel each one is averaged over ranks by DDP itself and
every rank applies the same update.

Second order: with w' = w − ξ ∇_w L_train(w, α), the structure gradient is
∇_α L_val(w', α) − ξ ∇²_{α,w} L_train(w, α) ∇_{w'} L_val(w', α), the Hessian-vector product taken by central
finite differences with ε = 0.01 / ‖∇_{w'} L_val‖ (as in DARTS). The unrolled step is plain SGD.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch


def _grads(params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params]


def _zero(params: Sequence[torch.Tensor]) -> None:
    for p in params:
        p.grad = None


def structure_gradient(loss: Callable[[Any], torch.Tensor], backward: Callable[[torch.Tensor], None],
                       weights: Sequence[torch.Tensor], structure: Sequence[torch.Tensor], train_batch: Any,
                       val_batch: Any, xi: float = 0.0) -> float:
    """Leave the DARTS structure gradient in ``p.grad`` for every structure parameter (network weights keep no
    gradient and end unchanged). ``xi`` = 0: first order. Returns the validation loss."""
    everything = list(weights) + list(structure)
    _zero(everything)
    if not xi:
        val = loss(val_batch)
        backward(val)
        for p in weights:
            p.grad = None
        return float(val.detach())
    saved = [p.detach().clone() for p in weights]
    backward(loss(train_batch))
    with torch.no_grad():
        for p, g in zip(weights, _grads(weights)):
            p.sub_(xi * g)
    _zero(everything)
    val = loss(val_batch)
    backward(val)
    d_alpha, d_w = _grads(structure), _grads(weights)
    norm = torch.sqrt(sum((g * g).sum() for g in d_w))
    eps = 0.01 / float(norm.clamp_min(1e-12))
    hessian = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            for p, s, g in zip(weights, saved, d_w):
                p.copy_(s + sign * eps * g)
        _zero(everything)
        backward(loss(train_batch))
        hessian.append(_grads(structure))
    with torch.no_grad():
        for p, s in zip(weights, saved):
            p.copy_(s)
    _zero(everything)
    for p, da, gp, gm in zip(structure, d_alpha, *hessian):
        p.grad = da - xi * (gp - gm) / (2 * eps)
    return float(val.detach())

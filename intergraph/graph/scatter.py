"""Scatter reductions in plain torch (no torch-scatter): sums, means, maxima and softmax over groups."""
from __future__ import annotations

import torch


def scatter_sum(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    out = src.new_zeros((size,) + src.shape[1:])
    return out.index_add_(0, index, src)


def scatter_mean(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    total = scatter_sum(src, index, size)
    count = torch.bincount(index, minlength=size).clamp_min(1).to(src.dtype)
    return total / count.view((-1,) + (1,) * (src.dim() - 1))


def scatter_max(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    out = src.new_full((size,) + src.shape[1:], float("-inf"))
    idx = index.view((-1,) + (1,) * (src.dim() - 1)).expand_as(src)
    return out.scatter_reduce(0, idx, src, reduce="amax", include_self=True)


def scatter_softmax(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Softmax of ``src`` within each group of equal ``index`` (e.g. over the incoming edges of a node)."""
    top = scatter_max(src.detach(), index, size)[index]
    e = torch.exp(src - top)
    return e / scatter_sum(e, index, size)[index].clamp_min(1e-16)


def attention_mean_pool(h: torch.Tensor, gate: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Per group g: [Σ_i softmax_g(a)_i h_i ‖ mean_i h_i], with a = ``gate`` (N, 1) attention logits.
    Shapes: h (N, d), index (N,) -> (size, 2d)."""
    w = scatter_softmax(gate, index, size)
    return torch.cat([scatter_sum(w * h, index, size), scatter_mean(h, index, size)], -1)

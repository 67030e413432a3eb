"""Generic geometric edge/node encodings shared by every domain."""
from __future__ import annotations

import math

import torch


def normalize(v: torch.Tensor, dim: int = -1, eps: float = 1e-8) -> torch.Tensor:
    """Unit vectors along ``dim``; zero vectors stay zero (no NaN)."""
    return v / v.norm(dim=dim, keepdim=True).clamp_min(eps)


def rbf(d: torch.Tensor, d_min: float = 0.0, d_max: float = 20.0, bins: int = 16) -> torch.Tensor:
    """Gaussian radial basis expansion of distances: ``bins`` centres evenly on [d_min, d_max]."""
    centres = torch.linspace(d_min, d_max, bins, device=d.device, dtype=d.dtype)
    width = (d_max - d_min) / bins
    return torch.exp(-(((d[..., None] - centres) / width) ** 2))


def sinusoidal(offset: torch.Tensor, dim: int = 16, period: float = 10000.0) -> torch.Tensor:
    """Transformer-style sin/cos encoding of integer offsets (e.g. sequence separation), ``dim`` features."""
    freq = torch.exp(torch.arange(0, dim, 2, device=offset.device, dtype=torch.float32) * (-math.log(period) / dim))
    angles = offset.to(torch.float32)[..., None] * freq
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)

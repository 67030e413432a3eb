"""Rigid motions in torch: random rotations and a batched, differentiable Kabsch superposition."""
from __future__ import annotations

import torch

# The SVD's gradient divides by differences of singular values: for collapsed point sets (all at one spot, as an
# untrained model may place its keypoints) a tiny anisotropic term keeps them distinct. Only there: any fixed
# term would break exact equivariance (amplified where the points are nearly coplanar).
_SPLIT = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64) * 1e-9


def random_rotation(generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    """A uniformly random proper rotation (3, 3) (QR of a Gaussian matrix, signs fixed)."""
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.to(dtype)


def kabsch(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation R (det +1) and translation t minimising Σ w_k ||R x_k + t − y_k||², batched over leading
    dimensions: x, y (..., K, 3), weights (..., K). Differentiable; computed in float64."""
    dtype = x.dtype
    x, y = x.double(), y.double()
    w = torch.ones(x.shape[:-1], dtype=torch.float64, device=x.device) if weights is None else weights.double()
    w = (w / w.sum(-1, keepdim=True))[..., None]
    xc, yc = (w * x).sum(-2, keepdim=True), (w * y).sum(-2, keepdim=True)
    h = ((x - xc) * w).transpose(-1, -2) @ (y - yc)
    with torch.no_grad():
        spread = torch.sqrt((w * (x - xc) ** 2).sum((-1, -2)) * (w * (y - yc) ** 2).sum((-1, -2)))
    h = h + (spread < 1e-12).to(h.dtype)[..., None, None] * torch.diag(_SPLIT.to(h.device))
    u, _, vt = torch.linalg.svd(h)
    v, ut = vt.transpose(-1, -2), u.transpose(-1, -2)
    d = torch.sign(torch.det(v @ ut))
    d = torch.where(d == 0, torch.ones_like(d), d)
    ones = torch.ones_like(d)
    r = v @ torch.diag_embed(torch.stack([ones, ones, d], -1)) @ ut
    t = yc.squeeze(-2) - (r @ xc.transpose(-1, -2)).squeeze(-1)
    return r.to(dtype), t.to(dtype)


def apply(r: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """R x + t for rows x (..., n, 3) with R (..., 3, 3), t (..., 3)."""
    return x @ r.transpose(-1, -2) + t[..., None, :]

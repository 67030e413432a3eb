"""Rigid motions in torch: random rotations and a batched, differentiable Kabsch superposition."""
from __future__ import annotations

import math

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


def quaternion_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) of unit quaternions q = (w, x, y, z) (..., 4)."""
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(q.shape[:-1] + (3, 3))


def rotation_count(step_degrees: float) -> int:
    """Rotations needed for a near-uniform SO(3) set at angular step θ: ⌈8π² / θ³⌉ (θ in radians; the volume of
    SO(3) over a cube of side θ): 4,401 at 15°, 68,751 at 6° (PIPER's set has 70,000, ZDOCK's 6° set 54,000)."""
    if not 0 < step_degrees <= 90:
        raise ValueError(f"angular step must lie in (0, 90] degrees, got {step_degrees}")
    return math.ceil(8 * math.pi ** 2 / math.radians(step_degrees) ** 3)


def rotation_set(count: int, dtype=torch.float64) -> torch.Tensor:
    """``count`` near-uniform rotations (count, 3, 3), deterministic: the super-Fibonacci spiral of Alexa (CVPR
    2022). With s = i + ½, r = √(s/n), R = √(1 − s/n), α = 2πs/φ, β = 2πs/ψ (φ = √2, ψ⁴ = ψ + 4):
    q_i = (r sin α, r cos α, R sin β, R cos β)."""
    phi, psi = math.sqrt(2.0), 1.533751168755204288118041
    s = torch.arange(count, dtype=torch.float64) + 0.5
    r, big_r = torch.sqrt(s / count), torch.sqrt(1 - s / count)
    alpha, beta = 2 * math.pi * s / phi, 2 * math.pi * s / psi
    q = torch.stack([r * torch.sin(alpha), r * torch.cos(alpha), big_r * torch.sin(beta), big_r * torch.cos(beta)], -1)
    return quaternion_matrix(q).to(dtype)


def rotation_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle (radians) of the rotation taking a to b, for (..., 3, 3) pairs: arccos((tr(aᵀb) − 1) / 2)."""
    trace = (a.transpose(-1, -2) @ b).diagonal(dim1=-2, dim2=-1).sum(-1)
    return torch.arccos(((trace - 1) / 2).clamp(-1, 1))


def principal_frame(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A frame fixed to a point set (n, 3): centre c (3,) and rotation Q (3, 3) whose rows are the principal
    axes (largest variance first), each signed so the third moment along it is ≥ 0, the last completing a
    right-handed frame. Q (x − c) is the same for any rigid motion of the input (where moments are not tied)."""
    x = points.double()
    c = x.mean(0)
    y = x - c
    _, vec = torch.linalg.eigh(y.T @ y)
    axes = vec.flip(-1).T.clone()
    for k in range(2):
        if ((y @ axes[k]) ** 3).sum() < 0:
            axes[k] = -axes[k]
    axes[2] = torch.linalg.cross(axes[0], axes[1])
    return c.to(points.dtype), axes.to(points.dtype)

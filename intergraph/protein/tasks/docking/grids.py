"""The two docking partners as rigid bodies and as 3-D grids whose correlation is the docking score.

A body holds a partner's heavy atoms and residues in its own principal frame (:func:`graph.rigid.principal_frame`),
so the search sees the same body however the input file is posed. The receptor's grid channels are fixed; the
ligand's are rebuilt for every rotation. Every score term is a sum over (receptor channel, ligand channel) pairs of
the correlation

    S[k] = Σ_v R[v] · L[v − k],     S = IFFT(FFT(R) · conj(FFT(L)))   (Katchalski-Katzir et al. 1992)

where k is the voxel offset of the ligand's centre. Points are rounded to their voxel and spheres are the voxel
centres within a radius of it, so the correlation equals the direct sum over the same rounded poses exactly.

Terms (residue centroids: mean of the side-chain heavy atoms, Cα for glycine):
- ``shape``: ligand heavy atoms within ``atom_contact`` Å of a receptor heavy atom and outside the receptor's core
  (the contacting atoms of ZDOCK's pairwise shape complementarity);
- ``clash``: ligand atoms inside the receptor's core (weighted negatively): its envelope (voxels within
  ``core_radius`` of an atom) closed with a ``probe`` sphere (dilated, then eroded: packing voids filled) and eroded
  by ``skin`` Å, so that touching partners, whose outer atoms interpenetrate a little, are not penalised;
- ``pair``: Σ_ij P(t_i, t_j) over residue pairs with centroids within ``contact`` Å, P a 20 × 20 residue-pair
  potential, decomposed P = Σ_k λ_k u_k u_kᵀ into a few channel pairs (PIPER's decomposition);
- ``restraint``: Σ_ij [(p_j − p̄) + (q_i − q̄)] over the same residue contacts, p and q the per-residue interface
  probabilities of receptor and ligand (an interface run's predictions; zero when absent);
- ``coupling``: Σ_ij (p_j − p̄)(q_i − q̄) over the same residue contacts: positive where residues predicted at the
  interface on both sides touch, negative where an interface residue touches one predicted off it (``restraint``
  rewards both alike, so a pose burying both patches against the wrong surfaces scores as the native does). It
  needs no further channel: the receptor's (p − p̄) channel against the ligand's (q − q̄) one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ....errors import InputError
from ....graph.rigid import principal_frame
from ...structure import Structure

TERMS = ("shape", "clash", "pair", "restraint", "coupling")
INTERFACE_TERMS = ("restraint", "coupling")   # terms that need interface probabilities
AMINO = "ACDEFGHIKLMNPQRSTVWY"
_BACKBONE = {"N", "CA", "C", "O", "OXT"}


@dataclass(frozen=True)
class GridSpec:
    """Grid geometry and the radii of the score terms (Å)."""

    spacing: float = 1.2
    core_radius: float = 2.6   # Å: a ligand atom closer to a receptor atom clashes (before closing)
    atom_contact: float = 5.0  # heavy-atom contact of the shape term
    skin: float = 0.0          # depth of the envelope (closed) spared from the clash term
    probe: float = 1.4         # solvent probe: the envelope is closed with it (voids between atoms filled)
    contact: float = 6.0       # residue contact (centroid distance) of the pair and restraint terms


@dataclass
class Body:
    """A partner in its principal frame: original x ↦ axes (x − center).

    atoms (n_a, 3) heavy atoms of the amino-acid residues; centroids, ca (n_r, 3); types (n_r,) index into
    ``AMINO``, 20 for any other residue; residues (n_r,) the structure's residue index of each; interface (n_r,)
    predicted interface probabilities or None."""

    structure: Structure
    residues: np.ndarray
    atoms: torch.Tensor
    centroids: torch.Tensor
    ca: torch.Tensor
    types: torch.Tensor
    center: torch.Tensor
    axes: torch.Tensor
    interface: torch.Tensor | None = None

    @staticmethod
    def rows(structure: Structure) -> np.ndarray:
        """The structure residues a body holds: amino-acid (polymer, not hetero) residues with a Cα."""
        res = np.flatnonzero(structure.res_polymer & ~structure.res_hetero)
        return res[structure.atom_index(("CA",))[res, 0] >= 0]

    @classmethod
    def from_structure(cls, structure: Structure, interface: np.ndarray | None = None) -> "Body":
        """``interface`` (n_r,): probabilities of :meth:`rows` (:mod:`restraints` makes them)."""
        res = cls.rows(structure)
        ca_index = structure.atom_index(("CA",))[:, 0]
        if len(res) < 3:
            raise InputError(f"{structure.source}: {len(res)} amino-acid residues with a Cα; docking needs at least 3")
        atoms, centroids = [], []
        for r in res:
            idx = np.arange(*structure.atom_slice(int(r)).indices(structure.n_atoms))
            idx = idx[structure.element[idx] != "H"]
            side = idx[~np.isin(structure.atom_name[idx], list(_BACKBONE))]
            atoms.append(structure.coord[idx])
            centroids.append(structure.coord[side].mean(0) if len(side) else structure.coord[ca_index[r]])
        x = torch.from_numpy(np.concatenate(atoms).astype(np.float64))
        center, axes = principal_frame(x)
        frame = lambda p: (torch.as_tensor(np.asarray(p), dtype=torch.float64) - center) @ axes.T  # noqa: E731
        letters = structure.res_letter[res]
        types = torch.tensor([AMINO.find(str(a)) if str(a) in AMINO else 20 for a in letters])
        probs = None
        if interface is not None:
            if len(interface) != len(res):
                raise InputError(f"{structure.source}: {len(interface)} interface probabilities for "
                                 f"{len(res)} residues")
            probs = torch.as_tensor(np.asarray(interface), dtype=torch.float64)
        return cls(structure, res, frame(x.numpy()), frame(np.stack(centroids)), frame(structure.coord[ca_index[res]]),
                   types, center, axes, probs)

    @property
    def radius(self) -> float:
        return float(self.atoms.norm(dim=1).max())

    def to_original(self, rotation: torch.Tensor, translation: torch.Tensor, receptor: "Body"):
        """The rigid motion (R', t') of the *input* ligand file that puts it at the pose (rotation R, translation t)
        of this body in the receptor's frame: x ↦ Qrᵀ (R Ql (x − cl) + t) + cr."""
        qr, ql = receptor.axes, self.axes
        r = qr.T @ rotation @ ql
        t = qr.T @ (translation - rotation @ ql @ self.center) + receptor.center
        return r, t

    def from_original(self, rotation: torch.Tensor, translation: torch.Tensor, receptor: "Body"):
        """The inverse of :meth:`to_original`: the pose (R, t) of this body in the receptor's frame that a motion
        (R', t') of the input ligand file makes: R = Qr R' Qlᵀ, t = Qr (t' − cr) + R Ql cl."""
        qr, ql = receptor.axes, self.axes
        rotation, translation = (torch.as_tensor(x, dtype=qr.dtype) for x in (rotation, translation))
        r = qr @ rotation @ ql.T
        return r, qr @ (translation - receptor.center) + r @ ql @ self.center


def sphere_offsets(radius: float, spacing: float, device=None) -> torch.Tensor:
    """Integer voxel offsets (M, 3) whose centres lie within ``radius`` of the origin voxel's centre."""
    n = int(np.floor(radius / spacing))
    r = torch.arange(-n, n + 1, device=device)
    off = torch.stack(torch.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    return off[(off.double() * spacing).norm(dim=1) <= radius + 1e-9]


def smooth_size(n: int) -> int:
    """The smallest even m ≥ n whose prime factors are 2, 3 and 5 (fast FFT sizes)."""
    m = max(2, n + (n % 2))
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 2


def splat(voxels: torch.Tensor, shape: tuple[int, int, int], offsets: torch.Tensor,
          values: torch.Tensor | None = None) -> torch.Tensor:
    """Grids (B, X, Y, Z) from integer voxel positions (B, n, 3): each position spreads over ``offsets`` (M, 3),
    wrapping around the box. ``values`` (n,) are summed; without them the grid is the occupancy (0/1) of the
    union of the spheres."""
    b = voxels.shape[0]
    dims = torch.tensor(shape, device=voxels.device)
    idx = (voxels[:, :, None, :] + offsets) % dims
    flat = (idx[..., 0] * shape[1] + idx[..., 1]) * shape[2] + idx[..., 2]
    size = shape[0] * shape[1] * shape[2]
    flat = (flat + torch.arange(b, device=voxels.device)[:, None, None] * size).reshape(-1)
    out = torch.zeros(b * size, device=voxels.device, dtype=torch.float32)
    if values is None:
        out[flat] = 1.0
    else:
        v = values.to(device=out.device, dtype=out.dtype)[None, :, None].expand(b, -1, offsets.shape[0]).reshape(-1)
        out.index_add_(0, flat, v)
    return out.view(b, *shape)


def dilate(mask: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Morphological dilation of a 0/1 grid (X, Y, Z) by the voxel offsets (M, 3) of a sphere (zero outside)."""
    n = int(offsets.abs().max())
    kernel = torch.zeros((2 * n + 1,) * 3, device=mask.device)
    kernel[tuple((offsets + n).T)] = 1
    hit = torch.nn.functional.conv3d(mask[None, None], kernel[None, None], padding=n)[0, 0]
    return (hit > 0.5).to(mask.dtype)


@dataclass
class ReceptorGrid:
    """The receptor's channels (C, X, Y, Z) on a box of ``shape`` voxels whose voxel 0 sits at ``origin`` (Å, in
    the receptor's frame); ``channels`` names them. Sized so that no ligand pose wraps onto the receptor."""

    spec: GridSpec
    origin: torch.Tensor
    shape: tuple[int, int, int]
    grids: torch.Tensor
    channels: tuple[str, ...]


def potential_channels(potential: np.ndarray | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest-|λ| terms of the symmetric 21 × 21 potential: (λ (k,), u (k, 21)); P ≈ Σ λ_k u_k u_kᵀ."""
    if potential is None or k == 0:
        return torch.zeros(0, dtype=torch.float64), torch.zeros(0, 21, dtype=torch.float64)
    p = torch.as_tensor(potential, dtype=torch.float64)
    lam, vec = torch.linalg.eigh((p + p.T) / 2)
    order = lam.abs().argsort(descending=True)[:k]
    return lam[order], vec[:, order].T


def receptor_grid(body: Body, ligand_radius: float, spec: GridSpec, pair: tuple[torch.Tensor, torch.Tensor],
                  device=None) -> ReceptorGrid:
    """The receptor's channels: contact (within ``atom_contact`` of an atom, outside the core), core, count
    (residue centroids within ``contact``), interface (p − p̄
    within ``contact``), pair_k (λ_k u_k[t_j] within ``contact``)."""
    h = spec.spacing
    reach = max(spec.core_radius + spec.probe, spec.atom_contact, spec.contact)
    margin = ligand_radius + 2 * h
    lo = body.atoms.min(0).values - reach - margin
    hi = body.atoms.max(0).values + reach + margin
    shape = tuple(smooth_size(int(np.ceil(float(e) / h)) + 1) for e in (hi - lo))
    origin = lo.to(device)

    def vox(points):
        return torch.round((points.to(device) - origin) / h).long()[None]

    atoms, cents = vox(body.atoms), vox(body.centroids)
    ball = lambda r: sphere_offsets(r, h, device)  # noqa: E731
    envelope = splat(atoms, shape, ball(spec.core_radius))[0]
    envelope = 1 - dilate(1 - dilate(envelope, ball(spec.probe)), ball(spec.probe))   # closing: packing voids filled
    core = 1 - dilate(1 - envelope, ball(spec.skin))
    contact = splat(atoms, shape, ball(spec.atom_contact))[0] * (1 - core)
    near = ball(spec.contact)
    channels = {"contact": contact, "core": core, "count": splat(cents, shape, near, torch.ones(len(body.types)))[0]}
    p = body.interface
    channels["interface"] = (splat(cents, shape, near, (p - p.mean()).float())[0] if p is not None
                             else torch.zeros(shape, device=device))
    lam, u = pair
    for k in range(len(lam)):
        channels[f"pair{k}"] = splat(cents, shape, near, (lam[k] * u[k][body.types]).float())[0]
    return ReceptorGrid(spec, origin, shape, torch.stack(list(channels.values())), tuple(channels))


def ligand_points(body: Body, rotations: torch.Tensor, shift: torch.Tensor, grid: ReceptorGrid,
                  pair: tuple[torch.Tensor, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The ligand's channels as weighted points, for rotations (B, 3, 3) and integer voxel shifts (B, 3) (zero for
    the FFT search, the pose's offset for a direct score): per channel, voxels (B, n, 3) at round(R y / h) + shift
    (not wrapped) and values (n,): atoms (1 per heavy atom), count (1 per residue), interface (q − q̄; zero
    without probabilities), pair_k (u_k[t_i])."""
    device = grid.grids.device
    rot = rotations.to(device=device, dtype=torch.float64)
    h = grid.spec.spacing

    def vox(points):
        return torch.round(points.to(device) @ rot.transpose(-1, -2) / h).long() + shift.to(device)[:, None, :]

    atoms, cents = vox(body.atoms), vox(body.centroids)
    q = body.interface
    n = len(body.types)
    out = [(atoms, torch.ones(len(body.atoms), device=device)), (cents, torch.ones(n, device=device)),
           (cents, (q - q.mean()).float().to(device) if q is not None else torch.zeros(n, device=device))]
    _, u = pair
    out += [(cents, u[k][body.types].float().to(device)) for k in range(len(u))]
    return out


def ligand_channels(body: Body, rotations: torch.Tensor, shift: torch.Tensor, grid: ReceptorGrid,
                    pair: tuple[torch.Tensor, torch.Tensor], channels: list[int] | None = None) -> torch.Tensor:
    """The ligand's channels (B, C, X, Y, Z) (all, or those indexed by ``channels``): the points of
    :func:`ligand_points` summed into their voxels (wrapping around the box)."""
    points = ligand_points(body, rotations, shift, grid, pair)
    points = points if channels is None else [points[k] for k in channels]
    b, c, size = rotations.shape[0], len(points), math.prod(grid.shape)
    dims = torch.tensor(grid.shape, device=grid.grids.device)
    out = torch.zeros(b * c * size, device=grid.grids.device, dtype=torch.float32)
    base = torch.arange(b, device=out.device)[:, None] * c
    for k, (vox, values) in enumerate(points):
        v = vox % dims
        flat = ((base + k) * grid.shape[0] + v[..., 0]) * grid.shape[1] + v[..., 1]
        out.index_add_(0, (flat * grid.shape[2] + v[..., 2]).reshape(-1), values.expand(b, -1).reshape(-1))
    return out.view(b, c, *grid.shape)


def uses_interface(weights: dict[str, float]) -> bool:
    """Whether a weight vector scores a term that needs interface probabilities."""
    return any(weights.get(t) for t in INTERFACE_TERMS)


def products(n_pair: int) -> list[tuple[int, int, str]]:
    """(receptor channel, ligand channel, term) of every correlation that enters the score."""
    rows = [(0, 0, "shape"), (1, 0, "clash"), (2, 2, "restraint"), (3, 1, "restraint"), (3, 2, "coupling")]
    return rows + [(4 + k, 3 + k, "pair") for k in range(n_pair)]

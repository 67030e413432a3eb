"""Structure -> residue graph (PyG ``Data``) with GVP-style geometric features.

Nodes are polymer residues that have a Cα atom, in file order. A residue without Cα is left out and
counted in ``n_residues_without_ca``; a residue missing N, C or O keeps its node, its backbone-derived
features are zeroed and ``node_s[:, 6]`` flags it. Dihedrals and orientations are never computed across
a chain break (C–N distance > 2 Å, or Cα–Cα > 4.2 Å when N/C are missing) or across chains.

Node features: ``node_s`` (L, 7) = cos/sin of (φ, ψ, ω) and the missing-backbone flag; ``node_v`` (L, 3, 3)
= forward and backward Cα orientation and the side-chain (virtual Cβ) direction.
Per node also: ``residue_type`` (index into the 21-letter vocabulary), ``chain`` (index into
``chain_ids``), ``residue_number`` and ``insertion_code`` (author numbering, as in the file),
``structure_residue`` (row in the Structure's residue arrays), ``backbone`` (L, 4, 3) N/CA/C/O with
``backbone_mask``. (No per-node name contains "index": PyG would offset it when batching.)
Edge features: ``edge_s`` (E, rbf_bins + positional_dim + 1) = RBF of Cα distance, sinusoidal encoding of
the residue-number separation (zero across chains), same-chain flag; ``edge_v`` (E, 1, 3) = unit vector
from the centre residue to its neighbour.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
from torch_geometric.data import Data

from ..errors import InputError
from ..graph.features import normalize, rbf, sinusoidal
from ..graph.neighbors import knn_graph, radius_graph
from .residues import residue_type_index
from .structure import Structure, StructureError

#: bump when the meaning of a feature changes, so caches built by older code are never reused
FEATURIZER_VERSION = 2
BACKBONE = ("N", "CA", "C", "O")
PEPTIDE_BOND_MAX = 2.0  # Å, C(i)–N(i+1)
CA_CA_MAX = 4.2  # Å, consecutive Cα when N or C is missing


@dataclass(frozen=True)
class GraphConfig:
    """How residue graphs are built; its :meth:`key` names caches."""

    edges: Literal["radius", "knn"] = "radius"
    radius: float = 8.0
    max_neighbors: int = 32
    k: int = 30
    rbf_bins: int = 16
    rbf_max: float = 20.0
    positional_dim: int = 16

    def __post_init__(self):
        if self.edges not in ("radius", "knn"):
            raise InputError(f"edges must be 'radius' or 'knn', not {self.edges!r}")

    def key(self) -> str:
        payload = json.dumps({**asdict(self), "version": FEATURIZER_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def edge_scalar_dim(self) -> int:
        return self.rbf_bins + self.positional_dim + 1


def _dihedral(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """IUPAC torsion angle a-b-c-d in (-π, π]: atan2(|b1| b0·(b1×b2), (b0×b1)·(b1×b2))."""
    b0, b1, b2 = b - a, c - b, d - c
    n2 = torch.cross(b1, b2, dim=-1)
    y = b1.norm(dim=-1) * (b0 * n2).sum(-1)
    x = (torch.cross(b0, b1, dim=-1) * n2).sum(-1)
    return torch.atan2(y, x)


def graph_nodes(structure: Structure) -> tuple[np.ndarray, np.ndarray, int]:
    """(residue indices of the nodes, backbone atom index (L, 4) with -1 for missing, residues without Cα)."""
    idx = structure.atom_index(BACKBONE)
    polymer = structure.res_polymer
    has_ca = idx[:, 1] >= 0
    nodes = np.flatnonzero(polymer & has_ca)
    return nodes, idx[nodes], int((polymer & ~has_ca).sum())


def featurize(structure: Structure, config: GraphConfig = GraphConfig(), name: str | None = None) -> Data:
    """Residue graph of all polymer chains of ``structure``."""
    nodes, bb_idx, without_ca = graph_nodes(structure)
    if len(nodes) == 0:
        only_het = bool(structure.res_hetero.all())
        raise StructureError(
            structure.source,
            "HETATM records only: no polymer residues" if only_het else "no Cα atoms in any amino-acid residue",
        )
    L = len(nodes)
    coord = torch.from_numpy(structure.coord)
    bb_mask = torch.from_numpy(bb_idx >= 0)
    backbone = coord[torch.from_numpy(bb_idx.clip(min=0))] * bb_mask[..., None]  # (L, 4, 3)
    N, CA, C = backbone[:, 0], backbone[:, 1], backbone[:, 2]

    chain_ids: list[str] = list(dict.fromkeys(structure.res_chain[nodes].tolist()))
    chain_of = {c: i for i, c in enumerate(chain_ids)}
    chain_index = torch.tensor([chain_of[c] for c in structure.res_chain[nodes]], dtype=torch.long)
    number = torch.from_numpy(structure.res_number[nodes].astype(np.int64))

    # bonded[i]: residue i and i+1 are consecutive in one chain
    same_chain = chain_index[1:] == chain_index[:-1]
    has_nc = bb_mask[:-1, 2] & bb_mask[1:, 0]
    cn = (C[:-1] - N[1:]).norm(dim=-1)
    caca = (CA[:-1] - CA[1:]).norm(dim=-1)
    bonded = same_chain & torch.where(has_nc, cn <= PEPTIDE_BOND_MAX, caca <= CA_CA_MAX)

    full = bb_mask[:, :3].all(-1)  # N, CA, C present
    phi = torch.zeros(L)
    psi = torch.zeros(L)
    omega = torch.zeros(L)
    ok_phi = torch.zeros(L, dtype=torch.bool)
    ok_next = torch.zeros(L, dtype=torch.bool)
    if L > 1:
        ok_phi[1:] = bonded & full[1:] & full[:-1]
        ok_next[:-1] = bonded & full[:-1] & full[1:]
        phi[1:] = _dihedral(C[:-1], N[1:], CA[1:], C[1:])
        psi[:-1] = _dihedral(N[:-1], CA[:-1], C[:-1], N[1:])
        omega[:-1] = _dihedral(CA[:-1], C[:-1], N[1:], CA[1:])
    angles = torch.stack([phi, psi, omega], -1)
    valid = torch.stack([ok_phi, ok_next, ok_next], -1)
    dihedrals = torch.cat([torch.cos(angles), torch.sin(angles)], -1) * valid.repeat(1, 2)
    missing = (~bb_mask.all(-1)).float()[:, None]
    node_s = torch.cat([dihedrals, missing], -1)

    forward = torch.zeros(L, 3)
    backward = torch.zeros(L, 3)
    if L > 1:
        step = normalize(CA[1:] - CA[:-1]) * bonded[:, None]
        forward[:-1] = step
        backward[1:] = -step
    c_dir, n_dir = normalize(C - CA), normalize(N - CA)
    bisector = normalize(c_dir + n_dir)
    perp = normalize(torch.cross(c_dir, n_dir, dim=-1))
    side = (-bisector * math.sqrt(1 / 3) - perp * math.sqrt(2 / 3)) * full[:, None]
    node_v = torch.stack([forward, backward, side], 1)

    if config.edges == "radius":
        edge_index = radius_graph(CA, config.radius, config.max_neighbors)
    else:
        edge_index = knn_graph(CA, config.k)
    src, dst = edge_index
    vec = CA[src] - CA[dst]
    dist = vec.norm(dim=-1)
    same = (chain_index[src] == chain_index[dst])
    pos_enc = sinusoidal(number[src] - number[dst], config.positional_dim) * same[:, None]
    edge_s = torch.cat([rbf(dist, 0.0, config.rbf_max, config.rbf_bins), pos_enc, same[:, None].float()], -1)
    edge_v = normalize(vec)[:, None]

    letters = structure.res_letter[nodes]
    data = Data(
        pos=CA.clone(),
        node_s=node_s,
        node_v=node_v,
        edge_index=edge_index,
        edge_s=edge_s,
        edge_v=edge_v,
        residue_type=torch.tensor([residue_type_index(c) for c in letters], dtype=torch.long),
        chain=chain_index,
        residue_number=number,
        insertion_code=torch.tensor([ord(c) if c else 0 for c in structure.res_icode[nodes]], dtype=torch.long),
        structure_residue=torch.from_numpy(nodes),
        backbone=backbone,
        backbone_mask=bb_mask,
    )
    data.name = name or structure.source
    data.chain_ids = chain_ids
    data.sequence = "".join(letters)
    by_id = {c.id: c.sequence for c in structure.chains()}
    data.chain_sequences = [by_id[c] for c in chain_ids]  # every polymer residue, the PLM's input
    data.n_residues_without_ca = without_ca
    data.graph_config = config.key()
    return data


def moved(graph: Data, rotation: torch.Tensor, translation: torch.Tensor) -> Data:
    """A copy of a residue graph after the rigid motion x -> R x + t: positions and backbone atoms move,
    direction vectors (node_v, edge_v) rotate, scalar features stay (they are invariant by construction)."""
    g = graph.clone()
    r, t = rotation.to(g.pos.dtype), translation.to(g.pos.dtype)
    g.pos = g.pos @ r.T + t
    if "backbone" in g:
        g.backbone = (g.backbone @ r.T + t) * g.backbone_mask[..., None]
    for key in ("node_v", "edge_v"):
        if key in g:
            g[key] = g[key] @ r.T
    return g


def node_subgraph(graph: Data, keep: torch.Tensor) -> Data:
    """``graph`` restricted to the nodes where ``keep`` (bool (L,)) holds, in their order: every per-node tensor
    indexed, the edges between kept nodes kept with their features (``edge_*``) and renumbered, graph-level
    attributes as they are."""
    idx = torch.nonzero(keep, as_tuple=True)[0]
    new = torch.full((graph.num_nodes,), -1, dtype=torch.long)
    new[idx] = torch.arange(len(idx))
    src, dst = graph.edge_index
    inside = keep[src] & keep[dst]
    out = Data()
    for key, value in graph:
        if key == "edge_index":
            out[key] = new[graph.edge_index[:, inside]]
        elif key.startswith("edge_") and torch.is_tensor(value):
            out[key] = value[inside]
        elif torch.is_tensor(value) and value.dim() > 0 and value.shape[0] == graph.num_nodes:
            out[key] = value[idx]
        else:
            out[key] = value
    return out


def interface_nodes(receptor_pos: torch.Tensor, ligand_pos: torch.Tensor, radius: float,
                    least: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """The interface residues of a pose: bool masks (Lr,), (Ll,) of the residues whose Cα lie within ``radius`` of
    a Cα of the other partner, and at least the ``least`` of each partner nearest to the other (so a pose out of
    contact still has a graph). Shapes: positions (Lr, 3), (Ll, 3)."""
    d = torch.cdist(receptor_pos.double(), ligand_pos.double())
    masks = []
    for nearest in (d.min(1).values, d.min(0).values):
        keep = nearest < radius
        keep[nearest.topk(min(least, len(nearest)), largest=False).indices] = True
        masks.append(keep)
    return masks[0], masks[1]


CONTACT_BINS = 8   # radial basis bins of each atom-level edge channel (:func:`contact_channels`)


def virtual_cb(backbone: torch.Tensor) -> torch.Tensor:
    """Cβ placed from the backbone with ideal geometry (trRosetta's constants): Cβ = −0.58273 a + 0.56803 b
    − 0.54067 c + Cα, with b = Cα − N, c = C − Cα, a = b × c. Shapes: backbone (L, 4, 3) (N, Cα, C, O) -> (L, 3)."""
    n, ca, c = backbone[:, 0], backbone[:, 1], backbone[:, 2]
    b, c = ca - n, c - ca
    return -0.58273431 * torch.cross(b, c, dim=-1) + 0.56802827 * b - 0.54067466 * c + ca


def contact_channels(graph: Data, bins: int = CONTACT_BINS, d_max: float = 20.0) -> torch.Tensor:
    """Atom-level features of each edge (i, j) of a residue graph that holds its backbones: the radial basis of
    the virtual-Cβ distance ‖Cβ_i − Cβ_j‖ (0 where either residue lacks N, Cα or C) and of the shortest backbone
    heavy-atom distance min_{a, b ∈ {N, Cα, C, O}} ‖a_i − b_j‖ (missing atoms left out). They carry what Cα
    positions alone do not: which way each residue faces and how close the two backbones come.
    Shapes: backbone (L, 4, 3), backbone_mask (L, 4), edge_index (2, E) -> (E, 2 · bins)."""
    src, dst = graph.edge_index
    bb, mask = graph.backbone, graph.backbone_mask
    has_cb = mask[:, :3].all(-1)
    cb = virtual_cb(bb)
    d_cb = (cb[src] - cb[dst]).norm(dim=-1)
    cb_ch = rbf(d_cb, 0.0, d_max, bins) * (has_cb[src] & has_cb[dst])[:, None]
    d = torch.cdist(bb[src], bb[dst])                                               # (E, 4, 4)
    d = d.masked_fill(~(mask[src][:, :, None] & mask[dst][:, None, :]), float("inf"))
    return torch.cat([cb_ch, rbf(d.flatten(1).min(1).values, 0.0, d_max, bins)], -1)


def join_partners(receptor: Data, ligand: Data, config: GraphConfig = GraphConfig(),
                  contact_radius: float = 12.0) -> Data:
    """One graph of a complex in a given pose: both partners' residue graphs side by side plus edges between
    partner residues whose Cα lie within ``contact_radius`` (at most ``config.max_neighbors`` nearest per
    residue). Inter-partner edges carry the distance basis, no sequence offset and "same chain" 0, like the
    edges between chains within one partner; ``partner`` marks ligand residues with 1; backbones (and PLM
    features) are joined where both partners hold them."""
    n_r = receptor.num_nodes
    d = torch.cdist(receptor.pos.double(), ligand.pos.double()).float()
    near = d < contact_radius
    k = config.max_neighbors  # cap each residue's partner neighbours at the k nearest
    if near.sum(1).max() > k:
        kth = d.masked_fill(~near, float("inf")).topk(k, 1, largest=False).values[:, -1:]
        near &= d <= kth
    if near.sum(0).max() > k:
        kth = d.masked_fill(~near, float("inf")).topk(k, 0, largest=False).values[-1:, :]
        near &= d <= kth
    ri, li = torch.nonzero(near, as_tuple=True)
    src = torch.cat([ri, li + n_r])
    dst = torch.cat([li + n_r, ri])
    pos = torch.cat([receptor.pos, ligand.pos])
    vec = pos[src] - pos[dst]
    cross_s = torch.cat([rbf(vec.norm(dim=-1), 0.0, config.rbf_max, config.rbf_bins),
                         torch.zeros(len(src), config.positional_dim + 1)], -1)
    out = Data(
        pos=pos,
        node_s=torch.cat([receptor.node_s, ligand.node_s]),
        node_v=torch.cat([receptor.node_v, ligand.node_v]),
        edge_index=torch.cat([receptor.edge_index, ligand.edge_index + n_r, torch.stack([src, dst])], 1),
        edge_s=torch.cat([receptor.edge_s, ligand.edge_s, cross_s]),
        edge_v=torch.cat([receptor.edge_v, ligand.edge_v, normalize(vec)[:, None]]),
        residue_type=torch.cat([receptor.residue_type, ligand.residue_type]),
        partner=torch.cat([torch.zeros(n_r, dtype=torch.long), torch.ones(ligand.num_nodes, dtype=torch.long)]),
    )
    if "backbone" in receptor and "backbone" in ligand:
        out.backbone = torch.cat([receptor.backbone, ligand.backbone])
        out.backbone_mask = torch.cat([receptor.backbone_mask, ligand.backbone_mask])
    if "plm" in receptor and "plm" in ligand:
        out.plm = torch.cat([receptor.plm, ligand.plm])
        out.plm_mask = torch.cat([receptor.plm_mask, ligand.plm_mask])
    return out

"""Binding affinity: an atom-level graph of the binding pocket and the ligand, and a regressor of pK.

Nodes are the heavy atoms of the pocket's amino acids and non-water hetero groups (metal ions matter for
binding) and every heavy ligand atom; edges join atoms within ``radius`` Å (at most ``max_neighbors``
nearest), with a distance basis, the kind of pair (protein-protein, ligand-ligand, protein-ligand) and a
covalent-bond flag inside the ligand. Protein atoms carry their residue's type and PLM features; ligand atoms
carry their own chemistry and no PLM features (``plm_mask`` False).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Batch, Data

from ....errors import InputError
from ....graph.features import normalize, rbf
from ....graph.neighbors import radius_graph
from ....graph.scatter import scatter_softmax, scatter_sum
from ....train.metrics import regression_metrics
from ...encoders import ResidueEncoder
from ...residues import UNKNOWN_INDEX, residue_type_index
from ...structure import Structure
from .ligand import ATOM_FEATURES, ligand_atom_features, protein_atom_features

WATER = {"HOH", "WAT", "DOD", "H2O"}
RBF_BINS = 16
EDGE_FEATURES = RBF_BINS + 3 + 1


def pocket_atoms(pocket: Structure) -> tuple[np.ndarray, np.ndarray]:
    """(heavy atom indices, their pocket residue indices): amino acids and non-water hetero groups."""
    keep_res = np.array([p or str(n) not in WATER for p, n in zip(pocket.res_polymer, pocket.res_name)])
    atoms = np.flatnonzero(keep_res[pocket.atom_residue] & (pocket.element != "H") & (pocket.element != "D"))
    if len(atoms) == 0:
        raise InputError(f"{pocket.source}: no heavy atoms in the pocket")
    return atoms, pocket.atom_residue[atoms]


def complex_graph(pocket: Structure, ligand, plm: tuple[np.ndarray, np.ndarray] | None = None,
                  radius: float = 5.0, max_neighbors: int = 24, name: str = "") -> Data:
    """The atom graph of a pocket and an RDKit ligand; ``plm`` = (per pocket residue embedding, mask)."""
    atoms, res = pocket_atoms(pocket)
    l_pos, l_feat, bonds = ligand_atom_features(ligand)
    n_p, n_l = len(atoms), len(l_pos)
    pos = torch.from_numpy(np.concatenate([pocket.coord[atoms].astype(np.float32), l_pos]))
    node_s = torch.from_numpy(np.concatenate([protein_atom_features(pocket.element[atoms], pocket.atom_name[atoms]),
                                              l_feat]))
    res_type = [residue_type_index(c) if pocket.res_polymer[r] else UNKNOWN_INDEX
                for r, c in zip(res, pocket.res_letter[res])]
    is_ligand = torch.cat([torch.zeros(n_p, dtype=torch.bool), torch.ones(n_l, dtype=torch.bool)])
    edge_index = radius_graph(pos, radius, max_neighbors)
    src, dst = edge_index
    vec = pos[src] - pos[dst]
    kind = torch.stack([~is_ligand[src] & ~is_ligand[dst], is_ligand[src] & is_ligand[dst],
                        is_ligand[src] != is_ligand[dst]], -1).float()
    bonded = torch.zeros(len(src))
    if bonds:
        b = torch.tensor(bonds, dtype=torch.long) + n_p
        pairs = set(map(tuple, torch.cat([b, b.flip(1)]).tolist()))
        bonded = torch.tensor([(s, d) in pairs for s, d in zip(src.tolist(), dst.tolist())], dtype=torch.float32)
    g = Data(pos=pos, node_s=node_s, node_v=torch.zeros(n_p + n_l, 3, 3), edge_index=edge_index,
             edge_s=torch.cat([rbf(vec.norm(dim=-1), 0.0, radius, RBF_BINS), kind, bonded[:, None]], -1),
             edge_v=normalize(vec)[:, None],
             residue_type=torch.tensor(res_type + [UNKNOWN_INDEX] * n_l, dtype=torch.long), is_ligand=is_ligand)
    if plm is not None:
        emb, mask = plm
        g.plm = torch.cat([torch.from_numpy(emb[res]).float(), torch.zeros(n_l, emb.shape[1])])
        g.plm_mask = torch.cat([torch.from_numpy(mask[res]), torch.zeros(n_l, dtype=torch.bool)])
    g.name = name or str(pocket.source)
    return g


def affinity_encoder(kind: str, fusion: str, plm_dim: int | None, **kw) -> ResidueEncoder:
    return ResidueEncoder(kind, fusion if plm_dim else "none", plm_dim, node_s_dim=ATOM_FEATURES,
                          edge_s_dim=EDGE_FEATURES, **kw)


class AffinityModel(nn.Module):
    """Atom embeddings h_i pooled four ways, then an MLP gives pK:

        pK = MLP([ Σ_i softmax_i(g·h_i) h_i ;  mean_{i∈L} h_i ;  mean_{i∈P} h_i ;  (1/30) Σ_{i∈L} h_i ])

    over the ligand atoms L and pocket atoms P of each complex. The last term keeps the ligand's size, which the
    three means normalise away (ligand heavy atoms alone correlate with pK at r ≈ 0.5 on CASF-2016).

    Shapes: batch with N atoms of B complexes -> (B,)."""

    LIGAND_ATOMS = 30.0  # a typical ligand: keeps the summed term at the scale of the means

    def __init__(self, encoder: ResidueEncoder, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.gate = nn.Linear(d, 1)
        self.head = nn.Sequential(nn.Linear(4 * d, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, batch: Batch) -> torch.Tensor:
        h, _ = self.encoder(batch)
        n, b = batch.num_graphs, batch.batch
        w = scatter_softmax(self.gate(h), b, n)
        lig = batch.is_ligand.to(h.dtype)[:, None]

        def mean(m):
            return scatter_sum(h * m, b, n) / scatter_sum(m, b, n).clamp(min=1)

        pooled = [scatter_sum(w * h, b, n), mean(lig), mean(1 - lig), scatter_sum(h * lig, b, n) / self.LIGAND_ATOMS]
        return self.head(torch.cat(pooled, -1)).squeeze(-1)


class AffinityTask:
    """MSE on pK (targets standardised by the training set's mean and spread); RMSE, Pearson, Spearman."""

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        self.mean, self.std = mean, std

    def pk(self, out: torch.Tensor) -> torch.Tensor:
        return out * self.std + self.mean

    def loss(self, out, batch) -> torch.Tensor:
        return nn.functional.mse_loss(out, (batch.y - self.mean) / self.std)

    def predictions(self, out, batch) -> dict[str, np.ndarray]:
        return {"pred": self.pk(out).detach().float().cpu().numpy(), "pk": batch.y.cpu().numpy(),
                "id": np.asarray(batch.id)}

    def metrics(self, collected) -> dict[str, float]:
        return regression_metrics(collected["pred"], collected["pk"])

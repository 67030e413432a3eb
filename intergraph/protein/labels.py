"""Per-residue interface labels of a two-partner complex, in both common definitions.

``ca``: the residue's Cα lies within ``ca_cutoff`` (8 Å) of any partner Cα.
``heavy``: any heavy (non-hydrogen) atom of the residue lies within ``heavy_cutoff`` (6 Å) of any heavy
atom of the partner's polymer residues (the DIPS/DB5 convention).
Labels are given for the graph nodes of each partner (polymer residues with a Cα, in file order).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .featurize import graph_nodes
from .structure import Structure

HYDROGENS = ("H", "D")


@dataclass
class InterfaceLabels:
    receptor_ca: np.ndarray  # bool per receptor graph node
    receptor_heavy: np.ndarray
    ligand_ca: np.ndarray
    ligand_heavy: np.ndarray


def _heavy_polymer_atoms(s: Structure) -> np.ndarray:
    return np.flatnonzero(s.res_polymer[s.atom_residue] & ~np.isin(s.element, HYDROGENS))


def _min_distance_to(points: np.ndarray, partner: np.ndarray, cutoff: float) -> np.ndarray:
    """Distance from each point to its nearest partner point (inf beyond ``cutoff``)."""
    if len(partner) == 0 or len(points) == 0:
        return np.full(len(points), np.inf)
    d, _ = cKDTree(partner).query(points, k=1, distance_upper_bound=cutoff)
    return d


def residue_min_heavy_distance(s: Structure, partner: Structure, cutoff: float = np.inf) -> np.ndarray:
    """For each graph node of ``s``: smallest heavy-atom distance to the partner (inf beyond ``cutoff``)."""
    nodes, _, _ = graph_nodes(s)
    atoms = _heavy_polymer_atoms(s)
    other = _heavy_polymer_atoms(partner)
    d = _min_distance_to(s.coord[atoms].astype(np.float64), partner.coord[other].astype(np.float64), cutoff)
    per_residue = np.full(s.n_residues, np.inf)
    np.minimum.at(per_residue, s.atom_residue[atoms], d)
    return per_residue[nodes]


def residue_min_ca_distance(s: Structure, partner: Structure, cutoff: float = np.inf) -> np.ndarray:
    _, bb, _ = graph_nodes(s)
    _, bb_p, _ = graph_nodes(partner)
    return _min_distance_to(s.coord[bb[:, 1]].astype(np.float64), partner.coord[bb_p[:, 1]].astype(np.float64), cutoff)


def interface_labels(
    receptor: Structure, ligand: Structure, ca_cutoff: float = 8.0, heavy_cutoff: float = 6.0
) -> InterfaceLabels:
    """Interface labels of both partners under both definitions (strict: distance < cutoff)."""
    # query a little beyond the cutoff so the strict comparison below decides, not the tree's bound
    return InterfaceLabels(
        receptor_ca=residue_min_ca_distance(receptor, ligand, ca_cutoff + 1) < ca_cutoff,
        receptor_heavy=residue_min_heavy_distance(receptor, ligand, heavy_cutoff + 1) < heavy_cutoff,
        ligand_ca=residue_min_ca_distance(ligand, receptor, ca_cutoff + 1) < ca_cutoff,
        ligand_heavy=residue_min_heavy_distance(ligand, receptor, heavy_cutoff + 1) < heavy_cutoff,
    )

"""Rigid docking metrics as EquiDock (Ganea et al. 2022) defines them, over Cα atoms.

- complex RMSD (CRMSD): the predicted complex (ligand and receptor Cα together) superposed on the ground truth
  by Kabsch, then the RMSD;
- interface RMSD (IRMSD): the same on the interface only, where the interface is every (ligand, receptor) pair of
  ground-truth Cα atoms closer than 8 Å, each pair contributing its two atoms (a residue with several partners
  counts several times, as in EquiDock's evaluation script);
- summaries: median, mean and (population) standard deviation over complexes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import read_structure
from .structure import Structure


def kabsch(moving: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R (proper, det +1) and translation t minimising Σ ||R x + t − y||² over paired rows."""
    if moving.shape != target.shape or moving.ndim != 2 or moving.shape[1] != 3:
        raise ValueError(f"paired (n, 3) coordinates needed, got {moving.shape} and {target.shape}")
    mc, tc = moving.mean(0), target.mean(0)
    h = (moving - mc).T @ (target - tc)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, tc - r @ mc


def rmsd(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1))))


def superposed_rmsd(pred: np.ndarray, true: np.ndarray) -> float:
    r, t = kabsch(pred, true)
    return rmsd(pred @ r.T + t, true)


def ca_coords(structure: Structure) -> np.ndarray:
    """Cα coordinates of the amino-acid residues from ATOM records, in file order (float64)."""
    res = np.nonzero(structure.res_polymer & ~structure.res_hetero)[0]
    keep = np.isin(structure.atom_residue, res) & (structure.atom_name == "CA")
    return structure.coord[keep].astype(np.float64)


def interface_pairs(ligand: np.ndarray, receptor: np.ndarray, cutoff: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ligand, receptor) of every ground-truth Cα pair closer than ``cutoff``."""
    d = np.linalg.norm(ligand[:, None, :] - receptor[None, :, :], axis=-1)
    return np.nonzero(d < cutoff)


@dataclass
class DockingScore:
    crmsd: float
    irmsd: float
    interface_pairs: int


def score_complex(ligand_pred: np.ndarray, receptor_pred: np.ndarray, ligand_true: np.ndarray,
                  receptor_true: np.ndarray, cutoff: float = 8.0) -> DockingScore:
    """CRMSD and IRMSD of a predicted complex against the ground truth (Cα coordinates, paired by order)."""
    for what, p, t in (("ligand", ligand_pred, ligand_true), ("receptor", receptor_pred, receptor_true)):
        if p.shape != t.shape:
            raise ValueError(f"{what}: {len(p)} predicted Cα atoms for {len(t)} in the ground truth")
    crmsd = superposed_rmsd(np.concatenate([ligand_pred, receptor_pred]), np.concatenate([ligand_true, receptor_true]))
    li, ri = interface_pairs(ligand_true, receptor_true, cutoff)
    if len(li) == 0:
        raise ValueError(f"no ligand-receptor Cα pair closer than {cutoff} Å in the ground truth")
    irmsd = superposed_rmsd(np.concatenate([ligand_pred[li], receptor_pred[ri]]),
                            np.concatenate([ligand_true[li], receptor_true[ri]]))
    return DockingScore(crmsd, irmsd, len(li))


def score_files(ligand_pred: str | Path, receptor_pred: str | Path, ligand_true: str | Path,
                receptor_true: str | Path, cutoff: float = 8.0) -> DockingScore:
    coords = [ca_coords(read_structure(p)) for p in (ligand_pred, receptor_pred, ligand_true, receptor_true)]
    try:
        return score_complex(*coords, cutoff=cutoff)
    except ValueError as e:
        raise ValueError(f"{ligand_pred} / {receptor_pred}: {e}") from None


def summarize(values) -> dict[str, float]:
    """Median, mean and population standard deviation (EquiDock's reporting)."""
    v = np.asarray(list(values), dtype=float)
    return {"median": float(np.median(v)), "mean": float(v.mean()), "std": float(v.std()), "n": int(len(v))}

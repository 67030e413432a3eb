"""Rigid docking metrics as EquiDock (Ganea et al. 2022) defines them, over Cα atoms.

- complex RMSD (CRMSD): the predicted complex (ligand and receptor Cα together) superposed on the ground truth
  by Kabsch, then the RMSD;
- interface RMSD (IRMSD): the same on the interface only, where the interface is every (ligand, receptor) pair of
  ground-truth Cα atoms closer than 8 Å, each pair contributing its two atoms (a residue with several partners
  counts several times, as in EquiDock's evaluation script);
- summaries: median, mean and (population) standard deviation over complexes.

And the CAPRI measures with DockQ (Basu & Wallner 2016) as the `dockq` package (v2) computes them, each partner
being one group of chains: residue contacts = any pair of non-hydrogen atoms within 5 Å (fnat: the share of native
contacts kept); interface = residues with any atom within 10 Å of the partner in the native, iRMSD over their backbone
atoms (N, CA, C, O) after superposition; LRMSD = RMSD of the smaller partner's backbone after superposing the
larger partner's backbone (the second partner when both are equally long);
DockQ = (fnat + 1 / (1 + (iRMSD / 1.5)²) + 1 / (1 + (LRMSD / 8.5)²)) / 3. Computed from the definition (the
package pins numpy < 2); equality with the package on the shipped baselines is tested
(scripts/dockq_reference.py writes its values).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, MissingError
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
            raise InputError(f"{what}: {len(p)} predicted Cα atoms for {len(t)} in the ground truth")
    crmsd = superposed_rmsd(np.concatenate([ligand_pred, receptor_pred]), np.concatenate([ligand_true, receptor_true]))
    li, ri = interface_pairs(ligand_true, receptor_true, cutoff)
    if len(li) == 0:
        raise InputError(f"no ligand-receptor Cα pair closer than {cutoff} Å in the ground truth")
    irmsd = superposed_rmsd(np.concatenate([ligand_pred[li], receptor_pred[ri]]),
                            np.concatenate([ligand_true[li], receptor_true[ri]]))
    return DockingScore(crmsd, irmsd, len(li))


def score_files(ligand_pred: str | Path, receptor_pred: str | Path, ligand_true: str | Path,
                receptor_true: str | Path, cutoff: float = 8.0) -> DockingScore:
    coords = [ca_coords(read_structure(p)) for p in (ligand_pred, receptor_pred, ligand_true, receptor_true)]
    try:
        return score_complex(*coords, cutoff=cutoff)
    except ValueError as e:
        raise InputError(f"{ligand_pred} / {receptor_pred}: {e}") from None


def summarize(values) -> dict[str, float]:
    """Median, mean and population standard deviation (EquiDock's reporting)."""
    v = np.asarray(list(values), dtype=float)
    return {"median": float(np.median(v)), "mean": float(v.mean()), "std": float(v.std()), "n": int(len(v))}


BACKBONE = ("N", "CA", "C", "O")


@dataclass
class Partner:
    """Amino-acid residues of one docking partner, paired with the other structure of the same partner (model
    or native): residue by residue, the heavy atoms present in both, in the same order."""

    sequence: str
    atom_coord: np.ndarray    # (n_atoms, 3) float64, residue by residue
    atom_start: np.ndarray    # (n_residues + 1,) atoms of residue i: [start[i], start[i + 1])
    backbone: np.ndarray      # (n_residues, 4, 3) N, CA, C, O; NaN where missing


def _heavy_atoms(structure: Structure) -> tuple[np.ndarray, list[dict[str, int]]]:
    """Amino-acid residues (ATOM records) and, per residue, its heavy atoms by name (hydrogens do not count, as
    in the dockq package)."""
    res = np.nonzero(structure.res_polymer & ~structure.res_hetero)[0]
    atoms = []
    for r in res:
        idx = range(*structure.atom_slice(int(r)).indices(structure.n_atoms))
        named: dict[str, int] = {}
        for a in idx:
            if structure.element[a] != "H":
                named.setdefault(str(structure.atom_name[a]), a)
        atoms.append(named)
    return res, atoms


def paired_partners(model: Structure, native: Structure, what: str = "partner",
                    min_identity: float = 0.9, min_coverage: float = 0.5) -> tuple[Partner, Partner]:
    """The residues and atoms a model and the native of one partner share. Identical sequences pair residue by
    residue; otherwise (a decoy with missing or extra residues) by a global sequence alignment, refused with a
    clear error below ``min_identity`` / ``min_coverage`` (the structures are then not the same protein)."""
    from .plm.align import checked_alignment

    (m_res, m_atoms), (n_res, n_atoms) = _heavy_atoms(model), _heavy_atoms(native)
    m_seq, n_seq = "".join(model.res_letter[m_res]), "".join(native.res_letter[n_res])
    if not m_seq or not n_seq:
        raise InputError(f"{what}: no amino-acid residues in the {'model' if not m_seq else 'native'}")
    rows = checked_alignment(m_seq, n_seq, f"{what} (model {model.source} vs native {native.source})",
                             min_identity, min_coverage).rows
    out = {"model": ([], [0], []), "native": ([], [0], [])}
    letters = []
    for k, j in enumerate(rows):
        if j < 0:
            continue
        common = [a for a in n_atoms[k] if a in m_atoms[j]]
        letters.append(n_seq[k])
        for side, structure, atoms in (("model", model, m_atoms[j]), ("native", native, n_atoms[k])):
            coords, starts, backbone = out[side]
            coords.append(structure.coord[[atoms[a] for a in common]].reshape(-1, 3))
            starts.append(starts[-1] + len(common))
            backbone.append([structure.coord[atoms[a]] if a in common else [np.nan] * 3 for a in BACKBONE])
    seq = "".join(letters)
    return tuple(Partner(seq, np.concatenate(c).astype(np.float64), np.array(st), np.array(bb, dtype=np.float64))
                 for c, st, bb in (out["model"], out["native"]))


def residue_distances(a: Partner, b: Partner, cutoff: float = 10.0) -> np.ndarray:
    """(n_a, n_b) minimum atom-atom distance between the residues of the two partners, exact up to ``cutoff``
    (inf beyond it). Atom pairs come from k-d trees, so memory follows the contacts, not n_a x n_b atoms."""
    from scipy.spatial import cKDTree

    # "ndarray" output keeps pairs at distance 0 (a sparse matrix would drop them)
    pairs = cKDTree(a.atom_coord).sparse_distance_matrix(cKDTree(b.atom_coord), cutoff, output_type="ndarray")
    out = np.full((len(a.atom_start) - 1, len(b.atom_start) - 1), np.inf)
    ra = np.searchsorted(a.atom_start, pairs["i"], side="right") - 1
    rb = np.searchsorted(b.atom_start, pairs["j"], side="right") - 1
    np.minimum.at(out, (ra, rb), pairs["v"])
    return out


def _backbone_pairs(model: np.ndarray, native: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = ~(np.isnan(model).any(-1) | np.isnan(native).any(-1))
    return model[ok], native[ok]


def capri(ligand_model: Structure, receptor_model: Structure, ligand_native: Structure,
          receptor_native: Structure) -> dict[str, float]:
    """fnat, iRMSD, LRMSD and DockQ of a docked model against the native complex, over the residues and atoms
    model and native share (see :func:`paired_partners`)."""
    lm, ln = paired_partners(ligand_model, ligand_native, "ligand")
    rm, rn = paired_partners(receptor_model, receptor_native, "receptor")
    native_d, model_d = residue_distances(rn, ln), residue_distances(rm, lm)
    contacts = native_d < 5.0
    if not contacts.any():
        raise InputError("the native partners have no residue contact within 5 Å")
    fnat = float((contacts & (model_d < 5.0)).sum() / contacts.sum())
    near = native_d < 10.0
    rec_i, lig_i = np.nonzero(near.any(axis=1))[0], np.nonzero(near.any(axis=0))[0]
    m_int, n_int = _backbone_pairs(np.concatenate([rm.backbone[rec_i], lm.backbone[lig_i]]),
                                   np.concatenate([rn.backbone[rec_i], ln.backbone[lig_i]]))
    irmsd = superposed_rmsd(m_int, n_int)
    (big_m, big_n), (small_m, small_n) = ((rm, rn), (lm, ln)) if len(rn.sequence) > len(ln.sequence) \
        else ((lm, ln), (rm, rn))
    r, t = kabsch(*_backbone_pairs(big_m.backbone, big_n.backbone))
    moved, native = _backbone_pairs(small_m.backbone, small_n.backbone)
    lrmsd = rmsd(moved @ r.T + t, native)
    dockq = (fnat + 1 / (1 + (irmsd / 1.5) ** 2) + 1 / (1 + (lrmsd / 8.5) ** 2)) / 3
    return {"fnat": fnat, "irmsd": irmsd, "lrmsd": lrmsd, "dockq": float(dockq),
            "native_contacts": int(contacts.sum())}


def score_structures(ligand_pred: Structure, receptor_pred: Structure, ligand_true: Structure,
                     receptor_true: Structure) -> dict[str, float]:
    """One docked complex against the truth: EquiDock's Cα CRMSD and IRMSD, and CAPRI fnat, DockQ's backbone
    iRMSD and LRMSD, DockQ."""
    ca = score_complex(*(ca_coords(s) for s in (ligand_pred, receptor_pred, ligand_true, receptor_true)))
    c = capri(ligand_pred, receptor_pred, ligand_true, receptor_true)
    return {"crmsd": ca.crmsd, "irmsd": ca.irmsd, "fnat": c["fnat"], "dockq_irmsd": c["irmsd"],
            "dockq_lrmsd": c["lrmsd"], "dockq": c["dockq"], "native_contacts": c["native_contacts"]}


def find_structure(folder: Path, stem: str) -> Path | None:
    for suffix in (".pdb.gz", ".pdb"):
        if (folder / (stem + suffix)).exists():
            return folder / (stem + suffix)
    return None


def structure_file(folder: Path, stem: str) -> Path:
    """``folder/stem.pdb.gz`` or ``.pdb``; a clear error when neither exists."""
    path = find_structure(folder, stem)
    if path is None:
        raise MissingError(f"{folder}: no {stem}.pdb[.gz]")
    return path


def score_folder(predictions: str | Path, truth: str | Path, on_item=None) -> tuple[list[dict], list[tuple[str, str]]]:
    """Score every predicted complex of a folder in EquiDock's layout: ``{ID}_l_b_<METHOD>.pdb[.gz]`` (and
    ``{ID}_r_b_<METHOD>...`` when the receptor moved too, else the ground-truth receptor is used) against
    ``truth/{ID}_{l,r}_b_COMPLEX.pdb[.gz]``. Returns one row per complex (EquiDock's Cα CRMSD and IRMSD; fnat,
    DockQ's backbone iRMSD and LRMSD, DockQ) and the (file, reason) of every prediction that could not be
    scored."""
    predictions, truth = Path(predictions), Path(truth)
    rows, skipped = [], []
    ligands = sorted(p for p in predictions.iterdir() if "_l_b" in p.name and p.name.endswith((".pdb", ".pdb.gz")))
    for lig in ligands:
        cid = lig.name.split("_l_b")[0]
        try:
            true_l, true_r = find_structure(truth, f"{cid}_l_b_COMPLEX"), find_structure(truth, f"{cid}_r_b_COMPLEX")
            if true_l is None or true_r is None:
                raise InputError(f"no ground truth {cid}_{{l,r}}_b_COMPLEX.pdb[.gz] in {truth}")
            rec = lig.with_name(lig.name.replace("_l_b", "_r_b", 1))
            rec = rec if rec.exists() else true_r
            rows.append({"complex": cid, **score_structures(*(read_structure(p) for p in (lig, rec, true_l, true_r)))})
        except (ValueError, OSError) as e:
            skipped.append((lig.name, str(e)))
        if on_item:
            on_item()
    return rows, skipped

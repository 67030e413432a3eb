"""Docking decoys with quality labels, for model quality assessment.

Every DB5 decoy is a rigid pose x ↦ R x + t of one form of the ligand file relative to the same form of the
receptor file, as given (``form`` "b": the bound partners, so (R, t) acts in the native receptor's frame; "u": the
unbound structures), whatever produced it: random perturbations of the native pose, random poses touching or
penetrating the receptor's surface, the six baselines of EquiDock's test protocol, our docking model's
predictions, or the global search (:mod:`search_decoys`). Labels (fnat, iRMSD, LRMSD, DockQ) always come from the
decoy's atoms against the native bound complex (:func:`docking_metrics.capri`, unbound residues paired with the
bound ones). External decoys
(HADDOCK models in ``qa_decoys``) are whole complex files, split into partners by chain.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ....errors import InputError, MissingError
from ...docking_metrics import ca_coords, capri, kabsch
from ...io import read_structure
from ...structure import Structure

LABELS = ("fnat", "irmsd", "lrmsd", "dockq")
FIELDS = (("target", "decoy", "source") + tuple(f"r{i}" for i in range(9)) + ("t0", "t1", "t2") + LABELS
          + ("score", "form"))
SEARCH_SOURCES = ("search-head", "search", "near-native")   # the decoys of the docking search (:mod:`search_decoys`)


@dataclass
class Decoy:
    target: str
    decoy: str
    source: str               # perturbation | surface | interpenetrating | <baseline method> | intergraph |
                              # search-head | search | near-native (:mod:`search_decoys`)
    rotation: np.ndarray      # (3, 3): native ligand -> decoy ligand, in the native receptor's frame
    translation: np.ndarray   # (3,)
    labels: dict[str, float]
    score: float = float("nan")   # the docking search's score of the pose (search decoys only)
    form: str = "b"               # the partner files the pose acts on: b(ound) | u(nbound)

    def row(self) -> dict:
        out = {"target": self.target, "decoy": self.decoy, "source": self.source}
        out.update({f"r{i}": float(v) for i, v in enumerate(self.rotation.ravel())})
        out.update({f"t{i}": float(v) for i, v in enumerate(self.translation)})
        out.update({k: float(self.labels[k]) for k in LABELS})
        out["score"] = "" if math.isnan(self.score) else float(self.score)   # empty: no search score
        out["form"] = self.form
        return out

    @classmethod
    def from_row(cls, row: dict) -> "Decoy":
        return cls(row["target"], row["decoy"], row["source"],
                   np.array([float(row[f"r{i}"]) for i in range(9)]).reshape(3, 3),
                   np.array([float(row[f"t{i}"]) for i in range(3)]), {k: float(row[k]) for k in LABELS},
                   float(row.get("score") or "nan"), row.get("form") or "b")   # files before unbound decoys: b


def write_decoys(decoys: list[Decoy], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(d.row() for d in decoys)
    tmp.replace(path)


def read_decoys(path: Path) -> list[Decoy]:
    with open(path, newline="") as f:
        return [Decoy.from_row(r) for r in csv.DictReader(f)]


def labelled(target: str, name: str, source: str, rotation, translation, receptor: Structure,
             ligand: Structure, score: float = float("nan"),
             native: tuple[Structure, Structure] | None = None, form: str = "b") -> Decoy:
    """A decoy pose of ``ligand`` against ``receptor`` and its CAPRI labels against the native complex
    (``native`` = (receptor, ligand) of the bound complex; default: the partners themselves are native)."""
    rec_n, lig_n = native or (receptor, ligand)
    c = capri(ligand.moved(rotation, translation), receptor, lig_n, rec_n)
    return Decoy(target, name, source, np.asarray(rotation, float), np.asarray(translation, float),
                 {k: c[k] for k in LABELS}, score, form)


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def perturbation_decoys(target: str, receptor: Structure, ligand: Structure, n: int, seed: int = 0,
                        max_angle: float = 90.0, max_shift: float = 20.0, clash: float = 3.0,
                        tries: int = 50) -> list[Decoy]:
    """``n`` rigid perturbations of the native ligand pose: a rotation about the ligand's centre by up to
    ``max_angle`` degrees and a shift of up to ``max_shift`` Å, both scaled by u^1.5 with u uniform (many
    near-native poses as well as wrong ones). Poses with a Cα pair closer than ``clash`` Å are redrawn
    (real docking methods do not interpenetrate, so such decoys would be trivially recognisable)."""
    rng = np.random.default_rng([seed, int.from_bytes(target.encode(), "little") % (2**32)])
    lig_ca, rec_ca = ca_coords(ligand), ca_coords(receptor)
    centre = lig_ca.mean(0)
    from scipy.spatial import cKDTree

    tree = cKDTree(rec_ca)
    out = []
    for k in range(n):
        for _ in range(tries):
            u = rng.uniform() ** 1.5
            rot = _rotation(rng.normal(size=3), math.radians(max_angle) * u * rng.choice([-1, 1]))
            direction = rng.normal(size=3)
            shift = direction / np.linalg.norm(direction) * max_shift * u
            trans = centre - rot @ centre + shift
            if not tree.query_ball_point(lig_ca @ rot.T + trans, clash, return_length=True).any():
                break
        out.append(labelled(target, f"{target}_perturbation_{k}", "perturbation", rot, trans, receptor, ligand))
    return out


def surface_decoys(target: str, receptor: Structure, ligand: Structure, n: int, seed: int = 0,
                   contact: float = 4.5, step: float = 0.5, depth: tuple[float, float] = (0.0, 0.0),
                   source: str = "surface") -> list[Decoy]:
    """``n`` poses at random places of the receptor: the ligand, turned by a uniformly random rotation,
    approaches the receptor's centre along a random direction until its closest Cα pair is under ``contact`` Å,
    then moves on by a depth drawn uniformly from ``depth`` (Å).

    With no depth these are like the false positives of real docking methods that avoid clashes: in contact
    (the closest distance moves by at most ``step`` per step, so it stays above ``contact - step``) but mostly
    at the wrong site. With depth they interpenetrate, as EquiDock's predictions often do. Perturbations of the
    native pose alone show a model neither."""
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng([seed, int.from_bytes(target.encode(), "little") % (2**32), 1,
                                 int.from_bytes(source.encode(), "little") % (2**32)])
    lig_ca, rec_ca = ca_coords(ligand), ca_coords(receptor)
    lig_c, rec_c = lig_ca.mean(0), rec_ca.mean(0)
    reach = (np.linalg.norm(rec_ca - rec_c, axis=1).max() + np.linalg.norm(lig_ca - lig_c, axis=1).max()
             + contact + step)
    tree = cKDTree(rec_ca)
    out = []
    for k in range(n):
        rot = Rotation.from_quat(rng.normal(size=4)).as_matrix()
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        push = rng.uniform(*depth)
        local = (lig_ca - lig_c) @ rot.T
        for dist in np.arange(reach, 0.0, -step):
            if tree.query(local + rec_c + direction * dist)[0].min() < contact:
                break
        trans = rec_c + direction * max(dist - push, 0.0) - rot @ lig_c
        out.append(labelled(target, f"{target}_{source}_{k}", source, rot, trans, receptor, ligand))
    return out


def pose_of(ligand_pred: Structure, receptor_pred: Structure | None, ligand: Structure,
            receptor: Structure) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) of a predicted ligand relative to the native receptor: the predicted receptor (when the method
    moved it) is superposed on the native first; then the native ligand is superposed on the prediction."""
    pred = ca_coords(ligand_pred)
    if receptor_pred is not None:
        r, t = kabsch(ca_coords(receptor_pred), ca_coords(receptor))
        pred = pred @ r.T + t
    native = ca_coords(ligand)
    if len(pred) != len(native):
        raise InputError(f"{ligand_pred.source}: {len(pred)} Cα for the native ligand's {len(native)}")
    return kabsch(native, pred)


def folder_decoys(folder: Path, source: str, receptors: dict[str, Structure], ligands: dict[str, Structure],
                  skipped: list[tuple[str, str]]) -> list[Decoy]:
    """Decoys from predictions in EquiDock's layout ``{ID}_l_b_<METHOD>.pdb[.gz]`` (+ ``{ID}_r_b_...`` when the
    method moved the receptor) for the targets given; unreadable or mismatched files go to ``skipped``."""
    out = []
    for lig in sorted(folder.iterdir()):
        if "_l_b" not in lig.name or not lig.name.endswith((".pdb", ".pdb.gz")):
            continue
        cid = lig.name.split("_l_b")[0]
        if cid not in ligands:
            continue
        try:
            rec = lig.with_name(lig.name.replace("_l_b", "_r_b", 1))
            rot, trans = pose_of(read_structure(lig), read_structure(rec) if rec.exists() else None,
                                 ligands[cid], receptors[cid])
            out.append(labelled(cid, f"{cid}_{source}", source, rot, trans, receptors[cid], ligands[cid]))
        except ValueError as e:
            skipped.append((str(lig), str(e)))
    return out


@dataclass
class ExternalDecoy:
    """A decoy complex file with its native, split into partners by chain ids."""

    target: str
    decoy: str
    receptor: Structure
    ligand: Structure
    labels: dict[str, float]


def split_partners(complex_: Structure, receptor_chains: str | list[str] = "",
                   ligand_chains: str | list[str] = "") -> tuple[Structure, Structure]:
    """(receptor, ligand) of a complex file by chain ids; without them a two-chain complex splits into its
    larger chain (receptor, the CAPRI convention) and the other."""
    if receptor_chains and ligand_chains:
        return complex_.select_chains(list(receptor_chains)), complex_.select_chains(list(ligand_chains))
    chains = complex_.chains()
    if len(chains) != 2:
        raise InputError(f"{complex_.source}: {len(chains)} chains ({', '.join(c.id for c in chains)}); say which "
                         f"form each partner (--receptor-chains, --ligand-chains)")
    big, small = sorted(chains, key=lambda c: -len(c.sequence))
    return complex_.select_chains([big.id]), complex_.select_chains([small.id])


def external_decoys(root: Path, target: str, receptor_chains: list[str],
                    ligand_chains: list[str]) -> list[ExternalDecoy]:
    """``root/target/{decoys,native}`` (qa_decoys' layout): every decoy file, labelled against the native."""
    folder = Path(root) / target
    natives = sorted((folder / "native").glob("*.pdb*"))
    if len(natives) != 1:
        raise MissingError(f"{folder / 'native'}: expected one native structure, found {len(natives)}")
    nr, nl = split_partners(read_structure(natives[0]), receptor_chains, ligand_chains)
    out = []
    for path in sorted((folder / "decoys").glob("*.pdb*")):
        r, l = split_partners(read_structure(path), receptor_chains, ligand_chains)
        c = capri(l, r, nl, nr)
        out.append(ExternalDecoy(target, path.name.split(".pdb")[0], r, l, {k: c[k] for k in LABELS}))
    return out

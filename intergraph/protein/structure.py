"""The one in-memory structure model that every reader produces.

Atoms and residues are columnar NumPy arrays (fast, picklable, no per-atom Python objects). Residues keep
author numbering and insertion codes exactly as in the file; nothing is renumbered. Polymer residues
(standard, modified or unknown amino acids) form the chains; every other group (ligands, ions, water) is
kept apart as a hetero group.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .residues import classify


class StructureError(InputError):
    """A structure file that cannot be used; the message names the file and the problem."""

    def __init__(self, source: str | Path, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{source}: {problem}")


@dataclass
class AtomRecords:
    """Raw atom records of one model, in file order, as any reader yields them."""

    hetero: np.ndarray  # bool: HETATM record
    name: np.ndarray  # str atom name, e.g. "CA"
    altloc: np.ndarray  # str, "" when none
    resname: np.ndarray  # str
    chain: np.ndarray  # str
    number: np.ndarray  # int64 author residue number
    icode: np.ndarray  # str, "" when none
    coord: np.ndarray  # float64 (n, 3)
    occupancy: np.ndarray  # float32
    b_factor: np.ndarray  # float32
    element: np.ndarray  # str, upper case
    line: np.ndarray  # int64 line (PDB) or row (mmCIF) of each record, for error messages


@dataclass
class Chain:
    """A polymer chain: its one-letter sequence and the structure residue behind each position."""

    id: str
    residues: np.ndarray  # int64 indices into Structure residue arrays, sequence order = file order

    sequence: str = ""


@dataclass
class Structure:
    """Atoms and residues of one model of one structure file."""

    source: str
    # atoms (after alternate-location resolution)
    atom_name: np.ndarray
    element: np.ndarray
    coord: np.ndarray  # float32 (n_atoms, 3)
    occupancy: np.ndarray
    b_factor: np.ndarray
    atom_residue: np.ndarray  # int64 residue index of each atom
    # residues
    res_chain: np.ndarray
    res_number: np.ndarray
    res_icode: np.ndarray
    res_name: np.ndarray
    res_letter: np.ndarray  # one-letter code; parent amino acid for modified residues; X for unknown
    res_hetero: np.ndarray  # bool: came from HETATM records
    res_polymer: np.ndarray  # bool: amino acid (standard, modified or unknown) -> part of a chain
    res_modified: np.ndarray  # bool
    res_atom_start: np.ndarray  # int64, atoms of residue r are [start[r], start[r+1])
    warnings: list[str] = field(default_factory=list)

    @property
    def n_atoms(self) -> int:
        return len(self.atom_name)

    @property
    def n_residues(self) -> int:
        return len(self.res_name)

    def atom_slice(self, residue: int) -> slice:
        stop = self.res_atom_start[residue + 1] if residue + 1 < self.n_residues else self.n_atoms
        return slice(int(self.res_atom_start[residue]), int(stop))

    def chains(self) -> list[Chain]:
        """Polymer chains in order of first appearance, each with its residues in file order."""
        polymer = np.flatnonzero(self.res_polymer)
        order: dict[str, list[int]] = {}
        for r in polymer:
            order.setdefault(str(self.res_chain[r]), []).append(int(r))
        out = []
        for cid, rows in order.items():
            idx = np.asarray(rows, dtype=np.int64)
            out.append(Chain(cid, idx, "".join(self.res_letter[idx])))
        return out

    def select_chains(self, chain_ids) -> "Structure":
        """The residues (polymer and hetero) of the given chains, in file order; raises naming missing ids."""
        wanted = {str(c) for c in chain_ids}
        present = {str(c) for c in self.res_chain}
        if wanted - present:
            raise StructureError(self.source, f"no chain {', '.join(sorted(wanted - present))} "
                                              f"(chains: {', '.join(sorted(present))})")
        keep_res = np.flatnonzero(np.isin(self.res_chain.astype(str), sorted(wanted)))
        keep_atom = np.flatnonzero(np.isin(self.atom_residue, keep_res))
        new_index = np.full(self.n_residues, -1, dtype=np.int64)
        new_index[keep_res] = np.arange(len(keep_res))
        atom_residue = new_index[self.atom_residue[keep_atom]]
        starts = np.searchsorted(atom_residue, np.arange(len(keep_res))).astype(np.int64)
        atoms = {f: getattr(self, f)[keep_atom] for f in ("atom_name", "element", "coord", "occupancy", "b_factor")}
        residues = {f: getattr(self, f)[keep_res] for f in ("res_chain", "res_number", "res_icode", "res_name",
                                                              "res_letter", "res_hetero", "res_polymer",
                                                              "res_modified")}
        return dataclasses.replace(self, **atoms, **residues, atom_residue=atom_residue, res_atom_start=starts,
                                   warnings=list(self.warnings))

    def moved(self, rotation: np.ndarray, translation: np.ndarray) -> "Structure":
        """A copy after the rigid motion x -> R x + t (computed in float64)."""
        coord = self.coord.astype(np.float64) @ np.asarray(rotation, dtype=np.float64).T + translation
        return dataclasses.replace(self, coord=coord.astype(np.float32), warnings=list(self.warnings))

    def hetero_groups(self) -> np.ndarray:
        """Indices of non-polymer residues (ligands, ions, water), kept apart from the chains."""
        return np.flatnonzero(~self.res_polymer)

    def atom_index(self, names: tuple[str, ...]) -> np.ndarray:
        """(n_residues, len(names)) index of each named atom per residue, -1 where it is missing."""
        out = np.full((self.n_residues, len(names)), -1, dtype=np.int64)
        for k, name in enumerate(names):
            hits = np.flatnonzero(self.atom_name == name)
            # first occurrence per residue wins (duplicates are rejected at read time)
            res = self.atom_residue[hits]
            first = np.unique(res, return_index=True)[1]
            out[res[first], k] = hits[first]
        return out

    def residue_label(self, r: int) -> str:
        """Human-readable residue id, e.g. ``A:GLU45B``."""
        return f"{self.res_chain[r]}:{self.res_name[r]}{self.res_number[r]}{self.res_icode[r]}"


MAX_ABS_COORD = 1.0e5  # Å; beyond any real crystal frame, so such values are corrupt


def build_structure(source: str | Path, rec: AtomRecords, warnings: list[str] | None = None) -> Structure:
    """Group raw records into residues, resolve alternate locations, classify residues and validate.

    Residue boundaries are changes of (chain, number, insertion code, record kind) between consecutive
    records, so very long chains whose numbering wraps around stay distinct residues. Alternate
    locations are resolved per atom by highest occupancy (first wins a tie). A repeated atom name within a
    residue (same alternate location) is an error rather than a guess.
    """
    warnings = list(warnings or [])
    n = len(rec.name)
    if n == 0:
        raise StructureError(source, "no ATOM/HETATM records")
    if not np.all(np.isfinite(rec.coord)):
        bad = int(np.flatnonzero(~np.isfinite(rec.coord).all(1))[0])
        raise StructureError(source, f"non-finite coordinates at line {rec.line[bad]}")
    if np.abs(rec.coord).max() > MAX_ABS_COORD:
        bad = int(np.flatnonzero(np.abs(rec.coord).max(1) > MAX_ABS_COORD)[0])
        raise StructureError(
            source, f"absurd coordinates {rec.coord[bad].tolist()} at line {rec.line[bad]} (|x| > {MAX_ABS_COORD:g} Å)"
        )

    # residue groups: consecutive runs of the same key
    change = np.ones(n, dtype=bool)
    change[1:] = (
        (rec.chain[1:] != rec.chain[:-1])
        | (rec.number[1:] != rec.number[:-1])
        | (rec.icode[1:] != rec.icode[:-1])
        | (rec.hetero[1:] != rec.hetero[:-1])
    )
    group = np.cumsum(change) - 1

    keep = np.ones(n, dtype=bool)
    has_alt = np.flatnonzero(rec.altloc != "")
    if len(has_alt):
        best: dict[tuple[int, str], int] = {}
        for i in has_alt:
            key = (int(group[i]), str(rec.name[i]))
            j = best.get(key)
            if j is None or rec.occupancy[i] > rec.occupancy[j]:
                best[key] = int(i)
        keep[has_alt] = False
        keep[list(best.values())] = True
        # an atom with no altloc beside an altloc copy of the same name: keep the unlabelled one
        blank = {(int(group[i]), str(rec.name[i])) for i in np.flatnonzero(rec.altloc == "")}
        for key, i in best.items():
            if key in blank:
                keep[i] = False
        warnings.append(f"{len(has_alt) - len(best)} alternate-location atoms resolved by highest occupancy")

    # duplicated atoms (same residue, same name, no alternate location to tell them apart)
    idx = idx_all = np.flatnonzero(keep)
    name_code = np.unique(rec.name[idx], return_inverse=True)[1].reshape(-1)
    key = group[idx] * (int(name_code.max()) + 1) + name_code
    order = np.argsort(key, kind="stable")
    same = np.flatnonzero(key[order][1:] == key[order][:-1])
    # a record repeated verbatim (same atom, same coordinates; seen in CASP server models) carries nothing new
    copies = [k for k in same if np.array_equal(rec.coord[idx[order[k]]], rec.coord[idx[order[k + 1]]])]
    if copies:
        keep[idx[order[np.array(copies) + 1]]] = False
        warnings.append(f"{len(copies)} atom record(s) repeated verbatim, the copies dropped (first at line "
                        f"{rec.line[idx[order[copies[0] + 1]]]})")
        same = np.setdiff1d(same, copies)
        idx = np.flatnonzero(keep)
    if len(same):
        a, b = idx_all[order[same[0]]], idx_all[order[same[0] + 1]]
        raise StructureError(
            source,
            f"duplicated atom {rec.name[a]} in residue {rec.chain[a]}:{rec.resname[a]}{rec.number[a]}"
            f"{rec.icode[a]} (lines {rec.line[a]} and {rec.line[b]})",
        )

    sel = idx
    g = group[sel]
    res_first = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    atom_residue = np.cumsum(np.r_[True, g[1:] != g[:-1]]) - 1
    first_atoms = sel[res_first]
    res_name = rec.resname[first_atoms]
    letters, is_aa, modified, known = (np.asarray(c) for c in zip(*(classify(str(r)) for r in res_name)))
    res_hetero = rec.hetero[first_atoms]
    is_aa = is_aa.astype(bool)
    # ATOM records of a residue name nobody knows still belong to the polymer (marked X)
    polymer = is_aa | (~res_hetero & ~known.astype(bool))
    structure = Structure(
        source=str(source),
        atom_name=rec.name[sel],
        element=rec.element[sel],
        coord=rec.coord[sel].astype(np.float32),
        occupancy=rec.occupancy[sel],
        b_factor=rec.b_factor[sel],
        atom_residue=atom_residue.astype(np.int64),
        res_chain=rec.chain[first_atoms],
        res_number=rec.number[first_atoms],
        res_icode=rec.icode[first_atoms],
        res_name=res_name,
        res_letter=np.asarray(letters, dtype="<U1"),
        res_hetero=res_hetero,
        res_polymer=polymer,
        res_modified=np.asarray(modified, dtype=bool),
        res_atom_start=res_first.astype(np.int64),
        warnings=warnings,
    )
    unknown = int((polymer & (structure.res_letter == "X")).sum())
    if unknown:
        warnings.append(f"{unknown} polymer residues of unknown or ambiguous type marked X")
    return structure

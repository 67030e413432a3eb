"""Small-molecule ligands read with RDKit: SDF first, mol2 as the fallback, or an Atom3D atoms table with its
SMILES. Every heavy atom keeps its own identity (element, formal charge, aromaticity, hybridisation, bound
hydrogens) — nothing is collapsed into one "ligand" token."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ....errors import InputError

ELEMENTS = ("C", "N", "O", "S", "P", "F", "Cl", "Br", "I")  # then one slot for anything else (metals, B, Se...)
HYBRIDISATION = ("SP", "SP2", "SP3")
#: per-atom scalar features: element one-hot (10), ligand flag, formal charge, aromatic, backbone atom,
#: hybridisation (3), bound hydrogens / 4
ATOM_FEATURES = len(ELEMENTS) + 1 + 1 + 1 + 1 + 1 + len(HYBRIDISATION) + 1


class LigandError(InputError):
    def __init__(self, source, problem: str):
        super().__init__(f"{source}: {problem}")
        self.problem = problem


def _sanitized(mol, source) -> "object":
    from rdkit import Chem

    if mol is None:
        raise LigandError(source, "RDKit could not parse the file")
    try:
        Chem.SanitizeMol(mol)
    except Exception as e:  # RDKit raises several exception types (AtomValenceException, KekulizeException...)
        raise LigandError(source, f"RDKit cannot sanitize the molecule: {e}") from None
    if mol.GetNumConformers() == 0:
        raise LigandError(source, "no 3D coordinates")
    return Chem.RemoveAllHs(mol, sanitize=False)  # RemoveHs keeps some (e.g. stereo-defining) hydrogens


def _parse(path: Path):
    """RDKit's molecule of an ``.sdf`` / ``.mol2`` file (gzipped or not), unsanitized; a clear error otherwise."""
    import gzip

    from rdkit import Chem

    name = path.name.lower().removesuffix(".gz")
    kind = name.rsplit(".", 1)[-1] if "." in name else ""
    if kind not in ("sdf", "mol2"):
        raise LigandError(path, f"unknown ligand format {Path(name).suffix!r} (use .sdf or .mol2, optionally .gz)")
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("latin-1")
    except (OSError, EOFError) as e:
        raise LigandError(path, f"cannot read the file ({e})") from None
    if kind == "sdf":
        return Chem.MolFromMolBlock(text.split("$$$$")[0], sanitize=False, removeHs=False)
    return Chem.MolFromMol2Block(text, sanitize=False, removeHs=False)


def read_ligand(*paths: str | Path):
    """An RDKit molecule with 3D coordinates (hydrogens removed) from the first of ``paths`` (``.sdf`` or
    ``.mol2``, optionally gzipped) that RDKit reads and sanitizes; for an SDF a ``.mol2`` of the same name beside
    it is tried too. The error names every file tried and why it failed."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")  # problems are raised with their reason instead of printed
    tried = [Path(p) for p in paths]
    first = tried[0]
    sibling = first.with_suffix(".mol2")
    if first.suffix == ".sdf" and sibling.exists() and sibling not in tried:
        tried.append(sibling)
    problems = []
    for path in tried:
        if not path.exists():
            problems.append((path, "no such file"))
            continue
        try:
            return _sanitized(_parse(path), path)
        except LigandError as e:
            problems.append((path, e.problem))
    if len(problems) == 1:
        raise LigandError(*problems[0])
    raise LigandError(first, "; ".join(f"{p.name}: {why}" for p, why in problems))


def ligand_from_atoms(elements, coords: np.ndarray, smiles: str, source: str):
    """An RDKit molecule from heavy-atom elements and coordinates (Atom3D stores no bonds): connectivity from
    distances, bond orders and charges from the SMILES template."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import AllChem, rdDetermineBonds

    RDLogger.DisableLog("rdApp.*")
    heavy = [i for i, e in enumerate(elements) if str(e).upper() != "H"]
    mol = Chem.RWMol()
    conf = Chem.Conformer(len(heavy))
    for k, i in enumerate(heavy):
        e = str(elements[i])
        mol.AddAtom(Chem.Atom(e[0].upper() + e[1:].lower()))
        conf.SetAtomPosition(k, [float(x) for x in coords[i]])
    mol = mol.GetMol()
    mol.AddConformer(conf, assignId=True)
    template = Chem.MolFromSmiles(smiles) if smiles else None
    if template is None:
        raise LigandError(source, f"unusable SMILES {smiles!r}")
    if template.GetNumHeavyAtoms() != mol.GetNumAtoms():
        raise LigandError(source, f"{mol.GetNumAtoms()} heavy atoms, but the SMILES {smiles!r} has "
                                  f"{template.GetNumHeavyAtoms()}")
    try:
        rdDetermineBonds.DetermineConnectivity(mol)
        mol = AllChem.AssignBondOrdersFromTemplate(template, mol)
    except Exception as e:
        raise LigandError(source, f"the atoms do not match the SMILES {smiles!r}: {e}") from None
    return _sanitized(mol, source)


def ligand_atom_features(mol) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """(coords (n, 3) float32, features (n, ATOM_FEATURES) float32, bonds as index pairs) of heavy atoms."""
    coords = mol.GetConformer().GetPositions().astype(np.float32)
    feats = np.zeros((mol.GetNumAtoms(), ATOM_FEATURES), dtype=np.float32)
    for a in mol.GetAtoms():
        i = a.GetIdx()
        sym = a.GetSymbol()
        feats[i, ELEMENTS.index(sym) if sym in ELEMENTS else len(ELEMENTS)] = 1
        feats[i, len(ELEMENTS) + 1] = 1  # ligand
        feats[i, len(ELEMENTS) + 2] = a.GetFormalCharge()
        feats[i, len(ELEMENTS) + 3] = float(a.GetIsAromatic())
        hyb = str(a.GetHybridization())
        if hyb in HYBRIDISATION:
            feats[i, len(ELEMENTS) + 5 + HYBRIDISATION.index(hyb)] = 1
        feats[i, -1] = a.GetTotalNumHs(includeNeighbors=True) / 4
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    return coords, feats, bonds


def protein_atom_features(elements: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Scalar features of protein (or ion) heavy atoms in the same layout as ligand atoms."""
    feats = np.zeros((len(elements), ATOM_FEATURES), dtype=np.float32)
    for i, (e, n) in enumerate(zip(elements, names)):
        sym = str(e)[:1].upper() + str(e)[1:].lower()
        feats[i, ELEMENTS.index(sym) if sym in ELEMENTS else len(ELEMENTS)] = 1
        feats[i, len(ELEMENTS) + 4] = float(str(n) in ("N", "CA", "C", "O"))
    return feats

"""Amino-acid vocabulary: three-letter names, one-letter codes, modified residues and type indices."""
from __future__ import annotations

from functools import lru_cache

STANDARD = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G",
    "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S",
    "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
}
# Non-standard but with their own IUPAC letter.
SPECIAL = {"SEC": "U", "PYL": "O", "ASX": "B", "GLX": "Z", "UNK": "X"}

#: Residue-type vocabulary of the no-PLM baseline: 20 standard amino acids, then X for everything else.
ALPHABET = "ACDEFGHIKLMNPQRSTVWY"
UNKNOWN_INDEX = len(ALPHABET)
NUM_RESIDUE_TYPES = len(ALPHABET) + 1
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


@lru_cache(maxsize=4096)
def classify(resname: str) -> tuple[str, bool, bool, bool]:
    """Return (one-letter code, is amino acid, is modified, is a known component) for a residue name.

    Standard residues map to themselves; modified amino acids (MSE, SEP, TPO, ...) map to their parent
    amino acid using gemmi's table of PDB chemical components; amino acids with no known parent are
    ``X``. Known non-amino-acid groups (ligands, ions, water, nucleotides) return
    ``("X", False, False, True)``; names nobody knows return ``("X", False, False, False)``.
    """
    name = resname.strip().upper()
    if name in STANDARD:
        return STANDARD[name], True, False, True
    if name in SPECIAL:
        return SPECIAL[name], True, False, True
    import gemmi

    info = gemmi.find_tabulated_residue(name)
    if info is None or not info.name:  # gemmi answers unknown names with an empty record
        return "X", False, False, False
    if not info.is_amino_acid():
        return "X", False, False, True
    code = info.one_letter_code
    parent = code.upper() if code.strip() and code.upper() in _INDEX else "X"
    return parent, True, True, True


def residue_type_index(letter: str) -> int:
    """Index of a one-letter code in :data:`ALPHABET`; everything else is :data:`UNKNOWN_INDEX`."""
    return _INDEX.get(letter, UNKNOWN_INDEX)

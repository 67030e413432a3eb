"""Interface labels: brute force on an independent parse, and residues checked by hand near the cutoffs."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from intergraph.protein.io import read_structure
from intergraph.protein.labels import interface_labels


def raw_residues(path):
    """Independent reading of a PDB file: {(chain, number, icode): {"ca": xyz, "heavy": [xyz...]}} for ATOM
    records (plus MSE), first alternate location only, in file order."""
    out: dict = {}
    for line in gzip.decompress(path.read_bytes()).decode().splitlines():
        if not (line.startswith("ATOM  ") or (line.startswith("HETATM") and line[17:20] == "MSE")):
            continue
        if line[16] not in " A":
            continue
        key = (line[21], int(line[22:26]), line[26].strip())
        xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
        element = line[76:78].strip() or line[12:16].strip()[0]
        res = out.setdefault(key, {"ca": None, "heavy": []})
        if element not in ("H", "D"):
            res["heavy"].append(xyz)
        if line[12:16] == " CA ":
            res["ca"] = xyz
    return {k: v for k, v in out.items() if v["ca"] is not None}


def brute_labels(mine, other):
    other_ca = np.array([v["ca"] for v in other.values()])
    other_heavy = np.concatenate([np.array(v["heavy"]) for v in other.values()])
    ca, heavy = [], []
    for v in mine.values():
        ca.append(np.linalg.norm(other_ca - v["ca"], axis=1).min() < 8.0)
        d = np.linalg.norm(np.array(v["heavy"])[:, None] - other_heavy[None], axis=-1)
        heavy.append(d.min() < 6.0)
    return np.array(ca), np.array(heavy)


@pytest.mark.parametrize("cid", ["1AVX", "7CEI"])
def test_labels_match_brute_force_on_an_independent_parse(db5_root, cid):
    r_path = db5_root / "structures" / f"{cid}_r_b.pdb.gz"
    l_path = db5_root / "structures" / f"{cid}_l_b.pdb.gz"
    lab = interface_labels(read_structure(r_path), read_structure(l_path))
    r_raw, l_raw = raw_residues(r_path), raw_residues(l_path)
    r_ca, r_heavy = brute_labels(r_raw, l_raw)
    l_ca, l_heavy = brute_labels(l_raw, r_raw)
    np.testing.assert_array_equal(lab.receptor_ca, r_ca)
    np.testing.assert_array_equal(lab.receptor_heavy, r_heavy)
    np.testing.assert_array_equal(lab.ligand_ca, l_ca)
    np.testing.assert_array_equal(lab.ligand_heavy, l_heavy)
    assert 0 < lab.receptor_heavy.sum() < len(lab.receptor_heavy)


# Residues whose smallest distance to the partner lies close to a cutoff, measured by hand (min heavy-atom
# distance, min Cα distance in Å): the labels must fall on the right side.
HAND_CHECKED = [
    ("1AVX", "r", "A", 143, 5.917, 8.227),   # heavy: in (just), Cα: out
    ("1AVX", "r", "A", 141, 6.111, 9.939),   # heavy: out (just)
    ("1AVX", "r", "A", 190, 3.289, 7.939),   # Cα: in (just)
    ("1AVX", "l", "B", 568, 6.088, 9.335),   # heavy: out
    ("1AVX", "l", "B", 560, 4.203, 8.027),   # Cα: out (just)
    ("7CEI", "r", "A", 64, 5.900, 8.181),
    ("7CEI", "r", "A", 32, 6.296, 10.451),
    ("7CEI", "r", "A", 29, 4.210, 7.910),
    ("7CEI", "l", "B", 512, 6.005, 10.126),  # heavy: out by 5 mÅ
    ("7CEI", "l", "B", 525, 2.519, 7.988),
]


@pytest.mark.parametrize("cid,role,chain,number,heavy,ca", HAND_CHECKED)
def test_hand_checked_residues(db5_root, cid, role, chain, number, heavy, ca):
    s = {x: read_structure(db5_root / "structures" / f"{cid}_{x}_b.pdb.gz") for x in "rl"}
    lab = interface_labels(s["r"], s["l"])
    mine = s[role]
    nodes = [r for c in mine.chains() for r in c.residues]
    i = next(k for k, r in enumerate(nodes) if mine.res_chain[r] == chain and mine.res_number[r] == number)
    labels_heavy = lab.receptor_heavy if role == "r" else lab.ligand_heavy
    labels_ca = lab.receptor_ca if role == "r" else lab.ligand_ca
    assert bool(labels_heavy[i]) == (heavy < 6.0)
    assert bool(labels_ca[i]) == (ca < 8.0)

"""Baselines of the affinity tables, trained and tested on exactly the complexes a run used.

- training mean: every test complex gets the mean pK of the training complexes;
- ligand heavy atoms: the least-squares line pK = a + b · (heavy atoms of the ligand);
- RF-Score v1 (Ballester & Mitchell 2010): a random forest (500 trees, 5 features tried per split, the
  published setting) on the 36 close-contact counts (ligand C N O S × protein C N O F P S Cl Br I within 12 Å)
  of ``pdbbind_casf``'s feature table (computed with ODDT), trained on the run's training complexes that the
  table holds, and on the 11,904 complexes of the table's ``train`` split (PDBbind v2016 general set minus the
  CASF-2016 core) less the run's test complexes: what a user with the whole of PDBbind would get.

Baselines train on the run's training and validation complexes together (they select nothing).
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np

from ....data import dataset_path
from ....errors import MissingError

RF_TABLE = "rfscore_v1_gign_pdbbind2016.csv.gz"
#: published CASF-2016 scoring power (Pearson r) of AutoDock Vina (Su et al. 2019), for reference only
VINA_CASF2016_PEARSON = 0.60
#: RF-Score v1's forest (Ballester & Mitchell 2010)
TREES, FEATURES_PER_SPLIT = 500, 5


def rfscore_table(root: Path | None = None) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, str]]:
    """(features, pK, split) by PDB id from the RF-Score v1 feature table of ``pdbbind_casf``."""
    path = (root or dataset_path("pdbbind_casf")) / RF_TABLE
    if not path.exists():
        raise MissingError(f"{path}: no RF-Score feature table")
    feats, pk, split = {}, {}, {}
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            cid = row["pdb_id"]
            feats[cid] = np.array([float(row[f"rf{k}"]) for k in range(36)])
            pk[cid], split[cid] = float(row["pK"]), row["splits"]
    return feats, pk, split


def heavy_atom_line(train_atoms: np.ndarray, train_pk: np.ndarray, test_atoms: np.ndarray) -> np.ndarray:
    """pK of the test ligands from the least-squares line through (heavy atoms, pK) of the training ligands."""
    slope, intercept = np.polyfit(train_atoms.astype(float), train_pk.astype(float), 1)
    return intercept + slope * test_atoms.astype(float)


def random_forest(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.ensemble import RandomForestRegressor

    rf = RandomForestRegressor(n_estimators=TREES, max_features=FEATURES_PER_SPLIT, random_state=seed, n_jobs=1)
    return rf.fit(train_x, train_y).predict(test_x)


def baseline_predictions(train: dict[str, float], test: list[str], heavy_atoms: dict[str, int], seed: int = 0,
                         table: tuple | None = None) -> dict[str, dict]:
    """Per baseline: its predictions for the ``test`` ids and what it was trained on. ``train``: id -> pK of the
    training complexes; ``heavy_atoms``: id -> ligand heavy atoms (train and test)."""
    y = np.array(list(train.values()))
    out = {"training mean": {"pred": {i: float(y.mean()) for i in test}, "trained on": f"{len(train)} complexes"}}
    line = heavy_atom_line(np.array([heavy_atoms[i] for i in train]), y, np.array([heavy_atoms[i] for i in test]))
    out["ligand heavy atoms (linear)"] = {"pred": dict(zip(test, map(float, line))),
                                          "trained on": f"{len(train)} complexes"}
    feats, pk, split = table if table is not None else rfscore_table()
    tested = [i for i in test if i in feats]
    same = [i for i in train if i in feats]
    if tested and len(same) > 5:
        pred = random_forest(np.stack([feats[i] for i in same]), np.array([train[i] for i in same]),
                             np.stack([feats[i] for i in tested]), seed)
        out["RF-Score v1, same training complexes"] = {
            "pred": dict(zip(tested, map(float, pred))),
            "trained on": f"the {len(same)} of the {len(train)} in the feature table"}
        held = set(test)
        general = [i for i, s in split.items() if s == "train" and i not in held]
        pred = random_forest(np.stack([feats[i] for i in general]), np.array([pk[i] for i in general]),
                             np.stack([feats[i] for i in tested]), seed)
        out["RF-Score v1, PDBbind v2016 general set minus core"] = {
            "pred": dict(zip(tested, map(float, pred))), "trained on": f"{len(general):,} complexes"}
    return out

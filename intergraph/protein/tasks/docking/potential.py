"""A residue-pair contact potential for docking, fitted on the interfaces of training complexes.

Two residues of different partners are in contact when their centroids (:class:`grids.Body`) lie within ``contact``
Å. With N_ab the contacts between types a and b over all training interfaces (counted both ways, so N is
symmetric), N = Σ N_ab and x_a the share of type a among all their residues, the potential is the log-odds

    P_ab = log((N_ab + α) / (N x_a x_b + α))

(α a pseudocount; residues of no standard type get 0). The shipped table
(``resources/pair_potential_db5_train.tsv``) was fitted on the 203 DB5.5 training complexes (EquiDock's split)
only, bound structures; ``scripts/fit_pair_potential.py`` rewrites it.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .grids import AMINO, Body

SHIPPED = "pair_potential_db5_train.tsv"


def contact_counts(receptor: Body, ligand: Body, contact: float = 6.0) -> np.ndarray:
    """(21, 21) symmetric counts of inter-partner residue contacts by type. The bodies may be in different frames:
    centroids are compared in the original coordinates."""
    a = receptor.centroids @ receptor.axes + receptor.center
    b = ligand.centroids @ ligand.axes + ligand.center
    i, j = torch.nonzero(torch.cdist(a, b) < contact, as_tuple=True)
    counts = np.zeros((21, 21))
    np.add.at(counts, (receptor.types[i].numpy(), ligand.types[j].numpy()), 1)
    return counts + counts.T


def fit(pairs: list[tuple[Body, Body]], contact: float = 6.0, pseudocount: float = 1.0) -> np.ndarray:
    """The (21, 21) log-odds potential from bound (receptor, ligand) pairs."""
    counts = sum(contact_counts(r, l, contact) for r, l in pairs)
    composition = np.zeros(21)
    for r, l in pairs:
        composition += np.bincount(torch.cat([r.types, l.types]).numpy(), minlength=21)
    x = composition / composition.sum()
    expected = counts.sum() * np.outer(x, x)
    p = np.log((counts + pseudocount) / (expected + pseudocount))
    p[20, :] = p[:, 20] = 0.0
    return p


def write(potential: np.ndarray, path: str | Path, header: str) -> None:
    """The table as TSV: comment lines (``header``), then a row of type letters (X: any other) and 21 rows."""
    letters = list(AMINO) + ["X"]
    lines = [f"# {line}" for line in header.splitlines()] + ["\t" + "\t".join(letters)]
    lines += [letters[k] + "\t" + "\t".join(f"{v:.4f}" for v in potential[k]) for k in range(21)]
    Path(path).write_text("\n".join(lines) + "\n")


def read(path: str | Path | None = None) -> np.ndarray:
    """A table written by :func:`write` (default: the shipped DB5.5-training fit)."""
    text = (Path(path).read_text() if path is not None
            else resources.files("intergraph.protein.resources").joinpath(SHIPPED).read_text())
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    if [r for r in rows[0] if r] != list(AMINO) + ["X"] or len(rows) != 22:
        raise ValueError(f"{path or SHIPPED}: not a 21 x 21 pair-potential table")
    return np.array([[float(v) for v in r[1:]] for r in rows[1:]])
